// The only way this app builds DOM: elements and text nodes. User text
// always goes in as a text node or textContent, never parsed as markup.

const properties = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'multiple', 'required', 'indeterminate']);

/**
 * h builds an element. props: "class", "text" (textContent), "dataset",
 * "on<event>" handlers, DOM properties (value, disabled, …); anything
 * else becomes an attribute. children: nodes, strings (as text), arrays,
 * null/false (skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (properties.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

/** append adds children (nodes, strings as text, nested arrays) to el. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** clear empties el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** replaceChildren empties el and adds children. */
export function fill(el, ...children) {
  clear(el);
  return append(el, children);
}

/**
 * reconcile makes container's children match items, one element per key,
 * reusing (and moving) elements already there so that images and focus
 * survive a re-render. create(item) makes a new element, update(el, item)
 * refreshes one.
 */
export function reconcile(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of [...container.children]) {
    if (child.dataset.key) existing.set(child.dataset.key, child);
  }
  let cursor = container.firstElementChild;
  const keep = new Set();
  for (const item of items) {
    const key = String(keyOf(item));
    let el = existing.get(key);
    if (el) {
      update?.(el, item);
    } else {
      el = create(item);
      el.dataset.key = key;
    }
    keep.add(el);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [, el] of existing) if (!keep.has(el)) el.remove();
}

const svgNS = 'http://www.w3.org/2000/svg';

const iconPaths = {
  back: 'M15 5l-7 7 7 7',
  home: 'M4 11l8-7 8 7v9h-5v-6h-6v6H4z',
  chat: 'M4 5h16v11H9l-5 4z',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c0-4 4-6 8-6s8 2 8 6',
  plus: 'M12 5v14M5 12h14',
  camera: 'M4 8h4l2-3h4l2 3h4v11H4zM12 17a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z',
  send: 'M4 12l16-8-6 16-3-7z',
  people: 'M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM2 20c0-3.5 3-5.5 7-5.5s7 2 7 5.5M16 4.5a3.5 3.5 0 0 1 0 6.5M18 14.8c2.4.6 4 2.4 4 5.2',
  close: 'M6 6l12 12M18 6L6 18',
  retry: 'M20 12a8 8 0 1 1-2.3-5.7M20 4v5h-5',
};

/** icon is a decorative line icon (hidden from screen readers). */
export function icon(name) {
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(svgNS, 'path');
  path.setAttribute('d', iconPaths[name] || '');
  svg.append(path);
  return svg;
}
