// One process owns a store directory: a LOCK file holding the owner's pid, taken over only from a dead owner.
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreOpenError } from './types.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function create(path: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export class DirectoryLock {
  private constructor(readonly path: string) {}

  static async acquire(dir: string): Promise<DirectoryLock> {
    const path = join(dir, 'LOCK');
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await create(path)) return new DirectoryLock(path);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const pid = Number.parseInt(text.trim(), 10);
      // An empty or garbled LOCK is what a crash between create and write leaves: treated as dead.
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        const who = pid === process.pid ? 'this process (opened twice?)' : `process ${pid}`;
        throw new StoreOpenError('locked', `config store ${dir} is in use by ${who}; stop it first, or remove ${path} if that process is not a control plane`);
      }
      // Moved aside and re-read rather than removed: if another process took the stale lock over
      // between our read and the move, we moved its live lock, and put it back.
      const stale = `${path}.stale-${process.pid}`;
      try {
        await rename(path, stale);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const moved = await readFile(stale, 'utf8').catch(() => '');
      if (moved !== text) await link(stale, path).catch(() => undefined);
      await rm(stale, { force: true });
    }
    throw new StoreOpenError('locked', `config store ${dir}: could not take ${path} (another process keeps taking it)`);
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
