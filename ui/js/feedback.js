// @ts-check
/** Short-lived messages saying what a command did, and the shared e-stop button. */
import { post } from './api.js';
import { setText } from './dom.js';

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;

/** @param {string} text @param {'ok' | 'error'} kind */
export function toast(text, kind) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.className = `toast ${kind}`;
  setText(el, text);
  el.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => (el.hidden = true), kind === 'error' ? 8000 : 2500);
}

/**
 * @param {string} what
 * @param {{ok: boolean, status: number, error?: string}} res
 * @param {() => void} [onAuthNeeded]
 */
export function reportResult(what, res, onAuthNeeded) {
  if (res.ok) return toast(`${what}: done`, 'ok');
  if (res.status === 401 || res.status === 403) {
    onAuthNeeded?.();
    return toast(`${what} refused: ${res.status === 401 ? 'enter the session token' : 'wrong token'}`, 'error');
  }
  toast(`${what} failed: ${res.error ?? res.status}`, 'error');
}

/**
 * The emergency stop: one press, no confirmation, on every page.
 * @param {HTMLElement} button @param {() => void} [onAuthNeeded]
 */
export function wireEstop(button, onAuthNeeded) {
  button.addEventListener('click', async () => {
    const res = await post('/api/estop');
    reportResult('EMERGENCY STOP', res, onAuthNeeded);
  });
}
