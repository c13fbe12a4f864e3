// The shell: start-up (from IndexedDB, so it works offline), navigation, the header with the
// pending count, and the service worker.

import * as db from './db.js'
import * as api from './api.js'
import { Syncer } from './sync.js'
import { t, setLanguage } from './i18n.js'
import * as views from './views.js'

const main = document.getElementById('main')
const pill = document.getElementById('sync-pill')
const banner = document.getElementById('banner')
const toastBox = document.getElementById('toast')
const nav = document.getElementById('tabs')

const syncer = new Syncer()
let leaveHandlers = []
let toastTimer = null
let toastAt = 0

const ctx = {
  syncer,
  session: null,
  toast(message) {
    toastBox.textContent = message
    toastBox.classList.add('show')
    toastAt = Date.now()
    clearTimeout(toastTimer)
    toastTimer = setTimeout(() => toastBox.classList.remove('show'), 3500)
  },
  navigate(hash) {
    if (location.hash === hash) route()
    else location.hash = hash
  },
  onLeave(handler) {
    leaveHandlers.push(handler)
  },
  /** Something changed locally: refresh the counts and sync soon. */
  changed(delay) {
    refreshHeader()
    syncer.soon(delay)
  },
  async loggedIn() {
    ctx.session = await api.session()
    main.replaceChildren(Object.assign(document.createElement('p'), { className: 'hint', textContent: t('syncing') }))
    await syncer.resume() // the categories and activity types the forms offer
    location.hash = '#observation'
    await route()
  },
  loggedOut() {
    ctx.session = null
    route()
  },
  relabel() {
    labelShell()
    route()
  },
}

function labelShell() {
  document.title = t('app_name')
  document.getElementById('app-title').textContent = t('app_name')
  nav.setAttribute('aria-label', t('app_name'))
  for (const link of nav.querySelectorAll('a')) {
    link.querySelector('.tab-label').textContent = t(`nav_${link.dataset.tab}`)
    const live = link.querySelector('.live .visually-hidden')
    if (live) live.textContent = `, ${t('shift_live')}`
  }
  refreshHeader()
}

async function fixCount() {
  let count = 0
  for (const table of db.RECORD_TABLES) count += (await db.all(table)).filter((r) => views.stateOf(r) === 'fix').length
  return count
}

async function refreshHeader() {
  const pending = await db.pendingCount()
  const shift = await db.setting('open_shift')
  nav.querySelector('[data-tab="activity"] .live').hidden = !shift
  const badge = nav.querySelector('[data-tab="outbox"] .count')
  badge.textContent = pending ? String(pending) : ''
  badge.hidden = !pending
  let text
  let state
  if (syncer.running) {
    text = t('syncing')
    state = 'busy'
  } else if (!navigator.onLine) {
    text = pending ? `${t('offline')} · ${t('pending_some', { n: pending })}` : t('offline')
    state = 'offline'
  } else if (pending) {
    text = t('pending_some', { n: pending })
    state = 'pending'
  } else {
    const toFix = await fixCount()
    text = toFix ? t('fix_some', { n: toFix }) : t('pending_none')
    state = toFix ? 'fix' : 'ok'
  }
  pill.textContent = text
  pill.dataset.state = state
  pill.hidden = !ctx.session?.refresh_token
  const stopped = syncer.stopped
  banner.replaceChildren()
  banner.hidden = !stopped
  if (stopped) {
    banner.append(document.createTextNode(t(stopped === 'revoked' ? 'device_revoked' : stopped === 'update' ? 'update_required' : 'session_expired')))
    if (stopped === 'expired') {
      const again = document.createElement('a')
      again.href = '#login'
      again.className = 'button secondary'
      again.textContent = t('log_in')
      banner.append(again)
    }
  }
}

let routing = Promise.resolve()

function route() {
  routing = routing.then(render, render)
  return routing
}

async function render() {
  // A message about the screen being left goes with it, unless it was just shown (save, then go on).
  if (Date.now() - toastAt > 1500) toastBox.classList.remove('show')
  for (const handler of leaveHandlers) handler()
  leaveHandlers = []
  ctx.session = await api.session()
  const hash = location.hash || '#observation'
  const loggedIn = Boolean(ctx.session?.me)
  nav.hidden = !loggedIn
  if (!loggedIn || hash === '#login') {
    views.renderLogin(main, ctx, { reason: hash === '#login' && syncer.stopped ? t('session_expired') : null })
    await refreshHeader()
    return
  }
  const [name, ...rest] = hash.slice(1).split('/')
  for (const link of nav.querySelectorAll('a')) {
    const current = link.dataset.tab === name || (name === 'fix' && link.dataset.tab === 'outbox')
    if (current) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  if (name === 'activity') await views.renderActivity(main, ctx)
  else if (name === 'outbox') await views.renderOutbox(main, ctx)
  else if (name === 'more') await views.renderMore(main, ctx)
  else if (name === 'fix') await views.renderFix(main, ctx, rest[0], rest[1])
  else await views.renderObservation(main, ctx)
  await refreshHeader()
  window.scrollTo(0, 0)
}

// Pulled data changes the outbox (states, redacted notes); other screens keep what is being typed.
syncer.addEventListener('change', () => {
  if ((location.hash || '').startsWith('#outbox')) route()
  else refreshHeader()
})
syncer.addEventListener('state', () => {
  refreshHeader()
  const button = main.querySelector('.outbox button.primary')
  if (button) {
    button.disabled = syncer.running
    button.textContent = syncer.running ? t('syncing') : t('sync_now')
  }
})
window.addEventListener('hashchange', route)
pill.addEventListener('click', () => ctx.navigate('#outbox'))

async function start() {
  setLanguage((await db.setting('language')) ?? (navigator.language?.startsWith('en') ? 'en' : 'sv'))
  labelShell()
  await route()
  document.body.classList.add('ready')
  if (ctx.session?.refresh_token) syncer.syncNow()
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch((error) => console.warn('no service worker', error))
  }
  // A periodic nudge: a phone that regained coverage without an `online` event still syncs.
  setInterval(async () => {
    if (!syncer.running && !syncer.timer && (await db.pendingCount())) syncer.soon(0)
  }, 60_000)
}

start()
