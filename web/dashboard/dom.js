// Small DOM functions shared by the views: elements, SVG elements, tables, messages.

import { t } from './i18n.js'

let unique = 0

/** A fresh id for label/input pairs. */
export function uid(prefix) {
  unique += 1
  return `${prefix}-${unique}`
}

function apply(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on')) node.addEventListener(key.slice(2).toLowerCase(), value)
    else if (key === 'class') node.setAttribute('class', value)
    else if (key === 'text') node.textContent = value
    else if (key === 'value') node.value = value
    else node.setAttribute(key, value === true ? '' : String(value))
  }
}

function append(node, children) {
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child)
}

/** An HTML element: `attrs` sets `on…` listeners, `class`, `text` and attributes. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  apply(node, attrs)
  append(node, children)
  return node
}

const SVG = 'http://www.w3.org/2000/svg'

/** An SVG element, with the same conventions as `h`. */
export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag)
  apply(node, attrs)
  append(node, children)
  return node
}

/** Replaces a node's children, skipping the absent ones (null, undefined, false). */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false))
  return node
}

/** A paragraph that says the view is loading. */
export function loading() {
  return h('p', { class: 'hint', role: 'status', text: t('loading') })
}

/** A failure to load, with a button that tries again. */
export function failure(error, retry) {
  return h('div', { class: 'card problem', role: 'alert' },
    h('p', { text: t('load_failed', { detail: error.message }) }),
    retry ? h('button', { type: 'button', class: 'secondary', text: t('retry'), onclick: retry }) : null)
}

/**
 * A table that keeps its width on a narrow screen: the wrapper scrolls and can be focused, so a
 * keyboard can scroll it too. `stack` turns rows into cards on a phone instead.
 */
export function tableWrap(label, table, { stack = false } = {}) {
  if (stack) table.classList.add('stack')
  return h('div', { class: stack ? 'table-wrap stacked' : 'table-wrap', tabindex: stack ? null : '0', role: 'region', 'aria-label': label }, table)
}

/** A cell that names its column, so a stacked row on a phone still says what each value is. */
export function td(column, content, attrs = {}) {
  return h('td', { 'data-label': column, ...attrs }, content)
}
