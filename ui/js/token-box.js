// @ts-check
/** The token field in the top bar: asked once, kept in sessionStorage. */
import { getToken, onTokenChange, setToken, verifyToken } from './api.js';
import { h, setText } from './dom.js';

/**
 * @param {HTMLElement} slot
 * @param {() => void} [onChange]
 */
export function createTokenBox(slot, onChange) {
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'password', id: 'token', placeholder: 'session token', autocomplete: 'off', size: 14 }));
  const state = h('span', { class: 'token-state', title: 'click to change the token' });
  const box = h(
    'form',
    {
      id: 'token-box',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        setToken(input.value.trim() || null);
        input.value = '';
        onChange?.();
      },
    },
    state,
    input,
    h('button', { type: 'submit', class: 'small' }, 'Use'),
  );
  state.addEventListener('click', () => {
    box.classList.remove('has-token');
    input.focus();
  });
  /** ✓ only once the server has accepted the token */
  async function show() {
    const ok = await verifyToken();
    const has = !!getToken();
    setText(state, !has ? 'token needed for control' : ok === false ? 'wrong token' : 'token ✓');
    box.classList.toggle('has-token', has && ok !== false);
    box.classList.toggle('needed', !has || ok === false);
  }
  slot.append(box);
  onTokenChange(() => void show());
  void show();
  return {
    /** draw attention to it after a refused command */
    ask() {
      box.classList.remove('has-token');
      box.classList.add('needed');
      input.focus();
    },
  };
}
