import { ReplyError } from 'ioredis';
import CircuitBreaker from 'opossum';
import { describe, expect, it } from 'vitest';
import { classifyRedisError, RedisTimeoutError, replyCode } from '../../src/redis/errors.js';

const reply = (message: string): Error => new ReplyError(message);
const errno = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:6379`), { code });

describe('Redis error classification', () => {
  it.each([
    ['OOM command not allowed when used memory > maxmemory', 'oom'],
    ["READONLY You can't write against a read only replica.", 'readonly'],
    ['MOVED 3999 127.0.0.1:6381', 'moved'],
    ['ASK 3999 127.0.0.1:6381', 'moved'],
    ['NOSCRIPT No matching script. Please use EVAL.', 'noscript'],
    ['CLUSTERDOWN The cluster is down', 'unavailable'],
    ['TRYAGAIN Multiple keys request during rehashing of slot', 'unavailable'],
    ['LOADING Redis is loading the dataset in memory', 'unavailable'],
    ['NOAUTH Authentication required.', 'auth'],
    ['WRONGPASS invalid username-password pair or user is disabled.', 'auth'],
    ['NOPERM this user has no permissions to run the get command', 'auth'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', 'error'],
    ['ERR unknown command', 'error'],
  ])('classifies the reply %j by its code as %s', (message, reason) => {
    expect(classifyRedisError(reply(message))).toBe(reason);
  });

  it('reads the code as the first word of the reply, up to a space or a newline', () => {
    expect(replyCode(reply('OOM command not allowed'))).toBe('OOM');
    expect(replyCode(reply('CLUSTERDOWN\nmore'))).toBe('CLUSTERDOWN');
    expect(replyCode(reply('NOSCRIPT'))).toBe('NOSCRIPT');
    expect(replyCode(new Error('OOM command not allowed'))).toBeUndefined();
  });

  it('never classifies by message text: a plain error that reads like a reply is an error', () => {
    expect(classifyRedisError(new Error('OOM command not allowed when used memory > maxmemory'))).toBe(
      'error',
    );
    expect(classifyRedisError(new Error('READONLY replica'))).toBe('error');
    expect(classifyRedisError(new Error('timed out'))).toBe('error');
  });

  it('recognises our own timeout by its class', () => {
    expect(classifyRedisError(new RedisTimeoutError(50))).toBe('timeout');
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN'])(
    'classifies the system error %s as unavailable',
    (code) => {
      expect(classifyRedisError(errno(code))).toBe('unavailable');
    },
  );

  it("classifies opossum's refusal of an open circuit as circuit_open", async () => {
    const breaker = new CircuitBreaker(async () => 'never called');
    breaker.open();
    const refusal = await breaker.fire().catch((error: unknown) => error);
    breaker.shutdown();
    expect((refusal as { code?: string }).code).toBe('EOPENBREAKER');
    expect(classifyRedisError(refusal)).toBe('circuit_open');
  });

  it('classifies anything else, errors or not, as error', () => {
    expect(classifyRedisError(errno('EACCES'))).toBe('error');
    expect(classifyRedisError(undefined)).toBe('error');
    expect(classifyRedisError(null)).toBe('error');
    expect(classifyRedisError('a string')).toBe('error');
  });
});
