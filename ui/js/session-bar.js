// @ts-check
/**
 * The session bar: phase, elapsed time, the running funnel with rates,
 * cells per hour, and start (preset picker) / pause / resume / abort.
 */
import { h, setText } from './dom.js';
import * as fmt from './format.js';
import { cellsPerHour } from './model.js';

const STAGES = [
  ['attempts', 'attempts'],
  ['approached', 'approached'],
  ['detected', 'detected'],
  ['sealed', 'sealed'],
  ['wholeCell', 'whole-cell'],
  ['recorded', 'recorded'],
];

/**
 * @param {HTMLElement} container
 * @param {{
 *   start: (opts: {preset: string, operator: string, durationMin: number | null}) => void,
 *   pause: () => void, resume: () => void, abort: () => void,
 * }} actions
 */
export function createSessionBar(container, actions) {
  const phase = h('span', { class: 'phase', id: 'phase' });
  const ident = h('span', { class: 'ident' });
  const elapsed = h('span', { class: 'elapsed', title: 'elapsed session time' });
  const cph = h('span', { class: 'cph', title: 'recorded cells per hour' });
  // progress towards the session's limit (time or attempts); hidden when it has none
  const progressBar = /** @type {HTMLProgressElement} */ (h('progress', { max: '1', value: '0' }));
  const progressText = h('span', null, '');
  const progress = h('span', { class: 'progress', id: 'session-progress', title: 'progress towards the session limit' }, progressBar, progressText);
  const funnelCells = STAGES.map(([key, label]) => {
    const count = h('b', null, '0');
    const rate = h('small', null, '');
    const bar = h('i', { class: 'fill' });
    return { key, el: h('span', { class: `stage stage-${key}`, title: label }, h('span', { class: 'label' }, label), count, rate, bar), count, rate, bar };
  });
  const funnel = h('div', { class: 'funnel', id: 'funnel' }, ...funnelCells.map((c) => c.el));

  const presetSelect = /** @type {HTMLSelectElement} */ (h('select', { id: 'preset', 'aria-label': 'preset' }));
  /** the rig's runnable presets, the current/last session's, and whether the operator chose one */
  /** @type {string[]} */
  let presetNames = [];
  /** @type {string | null} */
  let sessionPreset = null;
  let picked = false;
  presetSelect.addEventListener('change', () => (picked = true));
  const renderPresets = () => {
    const names = sessionPreset && !presetNames.includes(sessionPreset) ? [sessionPreset, ...presetNames] : presetNames;
    const keep = picked ? presetSelect.value : sessionPreset;
    presetSelect.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    if (names.length === 0) presetSelect.append(h('option', { value: '' }, 'no presets'));
    else if (keep && names.includes(keep)) presetSelect.value = keep;
  };
  const operator = /** @type {HTMLInputElement} */ (
    h('input', { id: 'operator', placeholder: 'operator', size: 10, value: localStorage.getItem('autopatch.operator') ?? '' })
  );
  const duration = /** @type {HTMLInputElement} */ (h('input', { id: 'duration', type: 'number', min: '1', step: '1', placeholder: 'min', title: 'stop starting attempts after this many minutes (empty = until stopped)', class: 'narrow' }));
  const startForm = h(
    'form',
    {
      class: 'start',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const op = operator.value.trim();
        if (!presetSelect.value) return presetSelect.focus();
        if (!op) return operator.focus();
        localStorage.setItem('autopatch.operator', op);
        actions.start({ preset: presetSelect.value, operator: op, durationMin: Number.isFinite(duration.valueAsNumber) ? duration.valueAsNumber : null });
      },
    },
    presetSelect,
    operator,
    duration,
    h('button', { type: 'submit', id: 'start', class: 'go' }, 'Start'),
  );
  const pauseBtn = h('button', { type: 'button', id: 'pause', onclick: () => actions.pause() }, 'Pause');
  const resumeBtn = h('button', { type: 'button', id: 'resume', class: 'go', onclick: () => actions.resume() }, 'Resume');
  let armedUntil = 0;
  const abortBtn = h('button', {
    type: 'button',
    id: 'abort',
    class: 'warn',
    title: 'click twice: end the session, every pipette to its safe state',
    onclick: () => {
      // two clicks, so a stray click cannot end a session (the e-stop is the one-click button)
      if (performance.now() < armedUntil) {
        armedUntil = 0;
        abortBtn.classList.remove('armed');
        setText(abortBtn, 'Abort');
        actions.abort();
      } else {
        armedUntil = performance.now() + 3000;
        abortBtn.classList.add('armed');
        setText(abortBtn, 'Confirm abort');
      }
    },
  });
  setText(abortBtn, 'Abort');
  const controls = h('div', { class: 'session-controls' }, startForm, pauseBtn, resumeBtn, abortBtn);

  container.append(h('div', { class: 'session-info' }, phase, ident, elapsed, progress, cph), funnel, controls);

  return {
    /** the presets the rig can run (it checks preparation and limits) @param {string[]} presets */
    setPresets(presets) {
      presetNames = presets;
      renderPresets();
    },
    /**
     * The current or last session's preset, from each snapshot: it stays
     * selected unless the operator picks another.
     * @param {string | null} preset
     */
    showSessionPreset(preset) {
      if (preset === sessionPreset) return;
      sessionPreset = preset;
      renderPresets();
    },
    /** @param {Record<string, any>} s @param {number} now rig clock ms */
    update(s, now) {
      phase.className = `phase phase-${s.phase}`;
      setText(phase, s.phase);
      setText(ident, s.sessionId ? `${s.sessionId} · ${s.preset ?? ''}` : 'no session');
      const live = s.phase === 'running' || s.phase === 'paused' || s.phase === 'stopping';
      // time and rate stop at the session's end
      setText(elapsed, s.startedAt !== null && s.startedAt !== undefined ? fmt.duration((s.endedAt ?? now) - s.startedAt) : '—');
      setText(cph, `${cellsPerHour(s, now).toFixed(1)} cells/h`);
      const p = sessionProgress(s, now);
      progress.hidden = p === null;
      if (p) {
        progressBar.value = p.fraction;
        setText(progressText, p.text);
      }
      const f = s.funnel ?? {};
      for (const c of funnelCells) {
        const n = f[c.key] ?? 0;
        setText(c.count, String(n));
        setText(c.rate, c.key === 'attempts' ? '' : fmt.percent(n, f.attempts ?? 0));
        c.bar.style.width = f.attempts ? `${Math.min(100, (100 * n) / f.attempts)}%` : '0';
      }
      startForm.hidden = live;
      pauseBtn.hidden = s.phase !== 'running';
      resumeBtn.hidden = s.phase !== 'paused';
      abortBtn.hidden = !live;
    },
  };
}

/**
 * How far a session is towards its limit: the time limit if it has one,
 * else the attempt limit; null without a session or a limit.
 * @param {Record<string, any>} s @param {number} now rig clock ms
 * @returns {{ fraction: number, text: string } | null}
 */
export function sessionProgress(s, now) {
  if (!s.sessionId || s.startedAt == null || !s.limits) return null;
  const { durationMs, maxAttempts } = s.limits;
  if (durationMs) {
    const used = Math.max(0, now - s.startedAt);
    return { fraction: Math.min(1, used / durationMs), text: `${fmt.duration(Math.min(used, durationMs))} of ${fmt.duration(durationMs)}` };
  }
  if (maxAttempts) {
    const n = s.attemptsStarted ?? 0;
    return { fraction: Math.min(1, n / maxAttempts), text: `${n} of ${maxAttempts} attempts` };
  }
  return null;
}
