// The fourteen steps of the seed document as a sequence diagram, drawn here as SVG
// (no library, no build step), and lit as the page's own exchanges happen: each
// request marks its steps with the real method, path and status.
//
// The CSP forbids style attributes: everything visual is a class (app.css) or an
// SVG presentation attribute. Motion is a CSS transition that app.css turns off
// under prefers-reduced-motion.
'use strict';

// eslint-disable-next-line no-unused-vars
const Flow = (() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 360; // drawn for a 375 px screen; it scales up on a wider one
  const ROW = 34;
  const TOP = 44;
  const X = { browser: 52, server: 184, db: 314 };

  /** [step, from, to, label]; from === to is a step inside one party. */
  const ARROWS = [
    [1, 'browser', 'server', 'log in: username, password'],
    [2, 'server', 'db', 'check the member table'],
    [3, 'server', 'db', 'store the refresh token'],
    [4, 'server', 'browser', 'access + refresh token'],
    [5, 'browser', 'server', 'request + access token'],
    [6, 'server', 'server', 'verify signature, exp'],
    [7, 'server', 'browser', 'the data'],
    [8, 'browser', 'browser', 'access token expires'],
    [9, 'browser', 'server', 'request + expired token'],
    [10, 'server', 'server', 'exp <= now'],
    [11, 'server', 'browser', '401 invalid_token'],
    [12, 'browser', 'server', 'refresh + access token'],
    [13, 'server', 'db', 'compare, rotate both'],
    [14, 'browser', 'server', 'request + new token'],
  ];

  const groups = new Map(); // step -> { group, live }
  let liveRegion = null;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (parent) parent.append(node);
    return node;
  }

  function text(content, attrs, parent) {
    const node = el('text', attrs, parent);
    node.textContent = content;
    return node;
  }

  /** Draws the diagram into `container`; `status` is a live region that says each exchange in words. */
  function mount(container, status) {
    liveRegion = status;
    const height = TOP + ARROWS.length * ROW + 12;
    const svg = el('svg', { viewBox: `0 0 ${WIDTH} ${height}`, class: 'flow', role: 'img',
      'aria-labelledby': 'flow-svg-title' });
    el('title', { id: 'flow-svg-title' }, svg).textContent =
      'Sequence diagram: the fourteen steps between browser, server and database';
    const defs = el('defs', {}, svg);
    for (const [id, cls] of [['flow-head', 'head'], ['flow-head-lit', 'head lit']]) {
      const marker = el('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse',
        orient: 'auto-start-reverse' }, defs);
      el('path', { d: 'M0,0 L10,5 L0,10 z', class: cls }, marker);
    }
    for (const [party, x] of Object.entries(X)) {
      const name = { browser: 'Browser', server: 'Server', db: 'Database' }[party];
      el('rect', { x: x - 40, y: 6, width: 80, height: 22, rx: 4, class: 'party' }, svg);
      text(name, { x, y: 21, 'text-anchor': 'middle', class: 'party-name' }, svg);
      el('line', { x1: x, y1: 28, x2: x, y2: height - 4, class: 'lifeline' }, svg);
    }
    ARROWS.forEach(([step, from, to, label], i) => {
      const y = TOP + i * ROW + 14;
      const g = el('g', { class: 'arrow', 'data-step': step }, svg);
      const x1 = X[from];
      const x2 = X[to];
      let mid;
      let anchor = 'middle';
      if (from === to) {
        // A step inside one party: a small loop to its right.
        el('path', { d: `M${x1},${y - 6} h18 v12 h-16`, class: 'line', 'marker-end': 'url(#flow-head)' }, g);
        mid = x1 + 24;
        anchor = 'start';
        text(`${step}`, { x: x1 - 8, y: y + 4, 'text-anchor': 'end', class: 'num' }, g);
        text(label, { x: mid, y: y + 4, 'text-anchor': anchor, class: 'label' }, g);
      } else {
        const dir = x2 > x1 ? 1 : -1;
        el('line', { x1: x1 + dir * 2, y1: y, x2: x2 - dir * 2, y2: y, class: 'line', 'marker-end': 'url(#flow-head)' }, g);
        mid = (x1 + x2) / 2;
        text(`${step}`, { x: Math.min(x1, x2) - 8, y: y + 4, 'text-anchor': 'end', class: 'num' }, g);
        text(label, { x: mid, y: y - 5, 'text-anchor': anchor, class: 'label' }, g);
      }
      const live = text('', { x: mid, y: from === to ? y + 15 : y + 12, 'text-anchor': anchor,
        class: 'live' }, g);
      groups.set(step, { group: g, live });
    });
    container.append(svg);
  }

  function steps(list) {
    return String(list).split(' ').map(Number).filter((n) => groups.has(n));
  }

  /** Lights `list` ("12 13") as the current exchange; the steps lit before stay marked as seen. */
  function light(list, caption) {
    const lit = steps(list);
    if (lit.length === 0) return;
    for (const [step, { group }] of groups) {
      if (group.classList.contains('lit') && !lit.includes(step)) {
        group.classList.remove('lit');
        group.classList.add('seen');
        group.querySelector('.line').setAttribute('marker-end', 'url(#flow-head)');
      }
    }
    for (const step of lit) {
      const { group } = groups.get(step);
      group.classList.remove('seen');
      group.classList.add('lit');
      group.querySelector('.line').setAttribute('marker-end', 'url(#flow-head-lit)');
    }
    if (caption !== undefined) {
      const { group, live } = groups.get(lit[0]);
      live.textContent = caption;
      group.dataset.last = caption;
    }
    if (liveRegion) {
      const label = lit.length > 1 ? `Steps ${lit[0]}–${lit[lit.length - 1]}` : `Step ${lit[0]}`;
      liveRegion.textContent = caption ? `${label}: ${caption}` : label;
    }
  }

  /** A path short enough for a 375 px screen: a session id becomes {id}. */
  const short = (path) => path.replace(/^\/auth\/sessions\/[^/]+$/, '/auth/sessions/{id}');

  /** An exchange: lit when sent ("…"), then with its status. */
  const sent = (list, method, path) => light(list, `${method} ${short(path)} …`);
  const answered = (list, method, path, status) =>
    light(list, `${method} ${short(path)} → ${status === 0 ? 'network error' : status}`);

  /**
   * A request whose steps are known only from its answer (a call with the access token:
   * steps 5-7, or 9-11 when the token is refused) lights `guess` when sent; `settle` then
   * puts `guess` back as it was if the answer belongs to other steps.
   */
  function sentAs(guess, method, path) {
    const before = steps(guess).map((step) => {
      const { group, live } = groups.get(step);
      return { step, className: group.getAttribute('class'), marker: group.querySelector('.line').getAttribute('marker-end'),
        caption: live.textContent, last: group.dataset.last };
    });
    sent(guess, method, path);
    return (finalSteps) => {
      const final = steps(finalSteps);
      for (const b of before) {
        if (final.includes(b.step)) continue;
        const { group, live } = groups.get(b.step);
        group.setAttribute('class', b.className);
        group.querySelector('.line').setAttribute('marker-end', b.marker);
        live.textContent = b.caption;
        if (b.last === undefined) delete group.dataset.last;
        else group.dataset.last = b.last;
      }
    };
  }

  return { mount, light, sent, sentAs, answered };
})();
