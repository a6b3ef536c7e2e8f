// The reconnect grace: nothing held on the first stream, held answers applied once when it ends, a new reconnect extends it.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReconnectGrace } from '../src/discovery/reconnect-grace.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ReconnectGrace', () => {
  it('holds nothing on the first stream: answers apply at once', () => {
    const grace = new ReconnectGrace(1_000, () => undefined);
    grace.streamStarted();
    expect(grace.hold('service a', () => undefined)).toBe(false);
    expect(grace.remainingMs()).toBe(0);
  });

  it('applies the held answers once when the grace ends, the latest per key, and skips dropped ones', () => {
    const released: string[][] = [];
    const applied: string[] = [];
    const grace = new ReconnectGrace(1_000, (keys) => released.push(keys));
    grace.streamStarted();
    grace.streamStarted();
    expect(grace.hold('service a', () => applied.push('a1'))).toBe(true);
    expect(grace.hold('service a', () => applied.push('a2'))).toBe(true);
    expect(grace.hold('address b', () => applied.push('b'))).toBe(true);
    grace.drop('address b');
    expect(grace.isHeld('service a')).toBe(true);
    vi.advanceTimersByTime(999);
    expect(applied).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(applied).toEqual(['a2']);
    expect(released).toEqual([['service a']]);
    expect(grace.isHeld('service a')).toBe(false);
    expect(grace.hold('service a', () => undefined)).toBe(false);
  });

  it('waits for the later grace when the stream restarts again meanwhile, and stop() cancels', () => {
    const applied: string[] = [];
    const grace = new ReconnectGrace(1_000, () => undefined);
    grace.streamStarted();
    grace.streamStarted();
    grace.hold('service a', () => applied.push('a'));
    vi.advanceTimersByTime(600);
    grace.streamStarted();
    vi.advanceTimersByTime(600);
    expect(applied).toEqual([]);
    vi.advanceTimersByTime(400);
    expect(applied).toEqual(['a']);
    grace.streamStarted();
    grace.hold('service b', () => applied.push('b'));
    grace.stop();
    vi.advanceTimersByTime(5_000);
    expect(applied).toEqual(['a']);
  });
});
