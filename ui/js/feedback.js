// @ts-check
/** Short-lived messages saying what a command did, and the shared e-stop button. */
import { getToken, onTokenChange, post, setToken, verifyToken } from './api.js';
import { h, setText } from './dom.js';

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
 * The emergency stop: one press, no confirmation, on every page. Like every
 * command it needs the session token, and it says so: without a token the
 * server accepts, it shows "not armed", and a press opens the token field
 * right under it; entering the token there arms it and stops at once.
 * @param {HTMLElement} button
 */
export function wireEstop(button) {
  const state = h('span', { class: 'estop-state' });
  button.append(state);
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'password', id: 'estop-token', placeholder: 'session token', autocomplete: 'off', 'aria-label': 'session token for the emergency stop' }));
  const note = h('span', { class: 'estop-note' }, 'The emergency stop needs the session token (printed by autopatch run).');
  const form = h(
    'form',
    {
      id: 'estop-arm',
      class: 'estop-arm',
      hidden: true,
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const token = input.value.trim();
        if (!token) return input.focus();
        input.value = '';
        setToken(token);
        await stop();
      },
    },
    note,
    input,
    h('button', { type: 'submit', id: 'estop-arm-go' }, 'Arm and STOP'),
  );
  document.body.append(form);

  // optimistic while the server is asked: a page opened with the token is armed from the start
  let armed = !!getToken();
  const show = () => {
    button.classList.toggle('unarmed', !armed);
    button.dataset.armed = String(armed);
    setText(state, armed ? '' : 'not armed: needs the token');
    if (armed) form.hidden = true;
  };
  const refresh = async () => {
    armed = !!getToken() && (await verifyToken()) !== false;
    show();
  };
  /** @param {string} why */
  const askForToken = (why) => {
    setText(note, why);
    form.hidden = false;
    input.focus();
  };
  const stop = async () => {
    const res = await post('/api/estop');
    if (res.status === 401 || res.status === 403) {
      armed = false;
      show();
      askForToken(res.status === 403 ? 'Wrong token: the emergency stop was NOT sent. Enter the session token.' : 'The emergency stop needs the session token.');
      toast('EMERGENCY STOP not sent: no valid token', 'error');
      return;
    }
    reportResult('EMERGENCY STOP', res);
  };
  button.addEventListener('click', () => {
    if (armed) void stop();
    else askForToken('Not armed: enter the session token to send the emergency stop.');
  });
  onTokenChange(() => void refresh());
  show();
  void refresh();
}
