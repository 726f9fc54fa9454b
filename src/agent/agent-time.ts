/**
 * The agent's real time (the port is domain/time.ts). Unlike the server's background timers
 * (src/main/system.ts, unref'd), the agent's timers keep the process alive: between two check-ins
 * a waiting timer is all an agent has to do.
 */
import type { TimeSource } from '../domain/time.js';

export const agentTime: TimeSource = {
  now: () => new Date(),
  schedule(delayMs, callback) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(timer) };
  },
};
