// Regenerates proto/src/generated from proto/protos (or into --out DIR, for the staleness check).
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--out');
const outDir = outFlag > 0 ? process.argv[outFlag + 1] : join(root, 'src', 'generated');
const protoDir = join(root, 'protos');
const files = readdirSync(join(protoDir, 'tsmesh')).filter((f) => f.endsWith('.proto')).sort().map((f) => `tsmesh/${f}`);

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
// These options must match LOADER_OPTIONS in proto/src/load.ts.
const bin = join(root, '..', 'node_modules', '@grpc', 'proto-loader', 'build', 'bin', 'proto-loader-gen-types.js');
execFileSync(process.execPath, [bin, '--grpcLib=@grpc/grpc-js', '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--keepCase', '--importFileExtension=.js', '--inputTemplate=%s', '--outputTemplate=%s__Output', `--includeDirs=${protoDir}`, `--outDir=${outDir}`, ...files], { stdio: 'inherit' });

// The generator writes absolute paths; make the output identical on every checkout.
import { readFileSync, writeFileSync } from 'node:fs';
const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
for (const file of walk(outDir)) {
  const text = readFileSync(file, 'utf8').split(`${protoDir}/`).join('proto/protos/');
  writeFileSync(file, text);
}
