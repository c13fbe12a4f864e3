// The photos of an observation: a strip of thumbnails that loads once it comes into view, and
// the full photo in a dialog on demand. The server audits every view, so nothing is fetched
// that is not on the screen, and a full photo only when asked for. An <img> cannot send the
// token: the bytes come as a blob shown through an object URL, revoked once its image has left
// the page (a view left or drawn again), so no view has to remember to.

import * as api from './api.js'
import { h, uid } from './dom.js'
import { t } from './i18n.js'

/** The height thumbnails are shown at, in CSS pixels (the server makes them at most 320). */
const THUMB_HEIGHT = 72

/** Object URL → the image that shows it. */
const shown = new Map()
/** Strip → `{ load, placed }`: strips not yet in view, and whether each has been in the page. */
const waiting = new Map()
let watcher = null

const nearby = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const strip = waiting.get(entry.target)
    if (!strip) continue
    if (entry.target.isConnected) strip.placed = true
    if (!entry.isIntersecting) continue
    nearby.unobserve(entry.target)
    waiting.delete(entry.target)
    strip.load()
  }
}, { rootMargin: '100px 0px' })

/** Lets go of what has left the page: its object URLs, and the strips that will never show. */
function forget() {
  for (const [url, img] of shown) {
    if (img.isConnected) continue
    URL.revokeObjectURL(url)
    shown.delete(url)
  }
  // A strip is made before it is placed: only one that was in the page and left is let go.
  for (const [element, strip] of waiting) {
    if (element.isConnected || !strip.placed) continue
    nearby.unobserve(element)
    waiting.delete(element)
  }
  if (!shown.size && !waiting.size) {
    watcher?.disconnect()
    watcher = null
  }
}

function watch() {
  if (watcher) return
  watcher = new MutationObserver(forget)
  watcher.observe(document.body, { childList: true, subtree: true })
}

/** Shows `blob` in `img`, unless the image left the page while the bytes were on their way. */
function show(img, blob) {
  if (!img.isConnected) return
  const url = URL.createObjectURL(blob)
  shown.set(url, img)
  watch()
  img.src = url
}

/** A photo's size scaled to `height`, its width at most twice that; its own ratio when known. */
function boxOf(attachment, height) {
  const ratio = attachment.width && attachment.height ? attachment.width / attachment.height : 4 / 3
  return { width: Math.round(Math.min(ratio, 2) * height), height }
}

/** The full photo in a modal dialog; Escape or the close button closes it, back to `opener`. */
function openPhoto(attachment, name, opener, ctx) {
  const titleId = uid('photo')
  const img = h('img', { class: 'photo-full', alt: name, width: attachment.width, height: attachment.height, hidden: true })
  const status = h('p', { class: 'hint', role: 'status', text: t('photo_loading') })
  const dialog = h('dialog', { class: 'dialog photo-dialog', 'aria-labelledby': titleId },
    h('div', { class: 'panel-head' },
      h('h2', { id: titleId, text: name }),
      h('button', { type: 'button', class: 'secondary small', text: t('close'), onclick: () => dialog.close() })),
    status,
    img)
  dialog.addEventListener('close', () => {
    dialog.remove()
    opener.focus()
  })
  document.body.append(dialog)
  dialog.showModal()
  ctx.guard((async () => {
    try {
      show(img, await api.blob(attachment.photo_url))
      img.hidden = false
      status.remove()
    } catch (error) {
      if (error instanceof api.SessionError) {
        dialog.close()
        throw error
      }
      status.textContent = t('photo_failed', { detail: error.message })
    }
  })())
}

function thumbnail(attachment, name, ctx) {
  const img = h('img', { class: 'thumb', alt: name, ...boxOf(attachment, THUMB_HEIGHT) })
  const button = h('button', { type: 'button', class: 'thumb-button', title: t('photo_open'), 'aria-haspopup': 'dialog' }, img)
  button.addEventListener('click', () => openPhoto(attachment, name, button, ctx))
  const item = h('li', {}, button)
  ctx.guard((async () => {
    try {
      show(img, await api.blob(attachment.thumbnail_url))
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      item.replaceChildren(h('span', { class: 'hint', text: t('photo_failed', { detail: error.message }) }))
    }
  })())
  return item
}

async function load(strip, observationId, what, ctx, { none }) {
  let attachments
  strip.setAttribute('aria-busy', 'true')
  try {
    attachments = await api.get(`/api/v1/observations/${encodeURIComponent(observationId)}/attachments`)
  } catch (error) {
    if (error instanceof api.SessionError) throw error
    strip.replaceChildren(h('p', { class: 'hint', text: t('photos_failed', { detail: error.message }) }))
    return
  } finally {
    strip.removeAttribute('aria-busy')
  }
  if (!strip.isConnected) return
  const count = attachments.length
  const arrived = attachments
    .map((attachment, i) => ({ attachment, name: t('photo_name', { n: i + 1, count, what }) }))
    .filter(({ attachment }) => attachment.uploaded && attachment.thumbnail_url)
  const onTheWay = count - arrived.length
  strip.replaceChildren(...[
    arrived.length ? h('ul', { class: 'photo-list', 'aria-label': t('photos') }, arrived.map(({ attachment, name }) => thumbnail(attachment, name, ctx))) : null,
    onTheWay ? h('p', { class: 'photo-pending', text: onTheWay === 1 ? t('photo_on_its_way') : t('photos_on_their_way', { n: onTheWay }) }) : null,
    !count && none ? h('span', { class: 'muted', text: none }) : null,
  ].filter(Boolean))
}

/**
 * The photos of an observation, loaded when the strip comes into view: one request for the
 * list, one per thumbnail. `what` names the observation in the images' alt texts; `none` is
 * shown when it has no photos (a table cell), else the strip stays empty.
 */
export function photoStrip(observationId, what, ctx, { none = null } = {}) {
  const strip = h('div', { class: 'photos' })
  waiting.set(strip, { load: () => ctx.guard(load(strip, observationId, what, ctx, { none })), placed: false })
  watch()
  nearby.observe(strip)
  return strip
}
