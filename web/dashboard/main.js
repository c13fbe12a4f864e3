// The shell: login, the header (views, language, account), routing by the location's hash, and
// what every view shares (reference data, the areas, messages, the end of a session).

import * as api from './api.js'
import { h, uid } from './dom.js'
import { t, setLanguage, getLanguage, initialLanguage, setTimeZone } from './i18n.js'
import { renderMap } from './map.js'
import * as filters from './filters.js'
import { renderAreas, renderArea } from './areas.js'
import { renderReview } from './review.js'
import { renderQuarantine, renderDevices } from './admin.js'
import { renderExports } from './exports.js'
import { renderRetention } from './retention.js'
import { renderPlan } from './plan.js'

const main = document.getElementById('main')
const nav = document.getElementById('nav')
const banner = document.getElementById('banner')
const toastBox = document.getElementById('toast')
const languageSelect = document.getElementById('language')
const who = document.getElementById('who')
const logoutButton = document.getElementById('logout')

/** Views every analyst sees; the rest are for coordinators and administrators. */
const PARTNER_VIEWS = ['map', 'areas', 'area', 'plan']
const VIEWS = {
  map: renderMap,
  areas: renderAreas,
  area: renderArea,
  review: renderReview,
  quarantine: renderQuarantine,
  devices: renderDevices,
  exports: renderExports,
  retention: renderRetention,
  plan: renderPlan,
}

let areasPromise = null
let configPromise = null
let referenceFor = null
let toastTimer = null
let toastAt = 0
let endedReason = null

const ctx = {
  categories: [],
  session: api.session,
  /**
   * The organisation's areas (GeoJSON, simplified to about 10 m), fetched once per login; for a
   * partner only those shared with them, which are the ones the picture lists.
   */
  areas() {
    areasPromise ??= (async () => {
      const areas = await api.get('/api/v1/areas?simplify=0.0001')
      if (isStaff()) return areas
      const shared = new Set((await api.get('/api/v1/picture')).areas.map((row) => row.area))
      return { ...areas, features: areas.features.filter((f) => shared.has(f.properties?.code)) }
    })().catch((error) => {
      areasPromise = null
      throw error
    })
    return areasPromise
  },
  /** The server's map settings (the tile layer, if any). */
  config() {
    configPromise ??= fetch('config.json', { cache: 'no-store' })
      .then((response) => (response.ok ? response.json() : { tiles: null }))
      .catch(() => ({ tiles: null }))
    return configPromise
  },
  navigate(hash) {
    if (location.hash === hash) route()
    else location.hash = hash
  },
  toast(message) {
    toastBox.textContent = message
    toastBox.classList.add('show')
    toastAt = Date.now()
    clearTimeout(toastTimer)
    toastTimer = setTimeout(() => toastBox.classList.remove('show'), 4000)
  },
  /** Runs a view's background work; an ended session leads to the login form. */
  guard(promise) {
    return Promise.resolve(promise).catch((error) => {
      if (error instanceof api.SessionError) ctx.sessionEnded(error)
      else console.error(error)
    })
  },
  sessionEnded(error) {
    endedReason = error.kind === 'revoked' ? t('device_revoked') : t('session_expired')
    route()
  },
  /** The count of new observations beside the review link. */
  async refreshCounts() {
    const badge = nav.querySelector('[data-view="review"] .count')
    if (!isStaff()) return
    try {
      const page = await api.get('/api/v1/observations?status=new&limit=1000')
      const n = page.items.length
      badge.replaceChildren(h('span', { 'aria-hidden': 'true', text: page.next ? '999+' : String(n) }), h('span', { class: 'visually-hidden', text: `, ${t('new_count', { n })}` }))
      badge.hidden = n === 0
    } catch {
      badge.hidden = true
    }
  },
}

function isStaff() {
  return ['coordinator', 'admin'].includes(api.session()?.me?.role)
}

function labelShell() {
  document.title = `${t('app_name')} – ${t('app_subtitle')}`
  document.getElementById('app-title').textContent = t('app_name')
  document.getElementById('app-subtitle').textContent = t('app_subtitle')
  document.getElementById('skip-link').textContent = t('skip')
  document.getElementById('language-label').textContent = t('language')
  nav.setAttribute('aria-label', t('views'))
  for (const link of nav.querySelectorAll('a')) link.firstChild.textContent = t(`nav_${link.dataset.view}`)
  logoutButton.textContent = t('log_out')
  languageSelect.value = getLanguage()
}

function renderHeader(current) {
  const me = current?.me
  const loggedIn = Boolean(current?.refresh_token && me)
  nav.hidden = !loggedIn
  who.hidden = !loggedIn
  logoutButton.hidden = !loggedIn
  if (!loggedIn) return
  for (const link of nav.querySelectorAll('[data-staff]')) link.hidden = !isStaff() && !(me.role === 'partner' && link.hasAttribute('data-partner'))
  for (const link of nav.querySelectorAll('[data-admin]')) link.hidden = me.role !== 'admin'
  filters.setPartner(me.role === 'partner')
  who.textContent = t('signed_in_as', { user: me.display_name || me.username, role: t(`role_${me.role}`) })
}

function renderLogin(reason) {
  const last = api.session()
  const status = h('p', { class: 'message', role: 'alert' })
  if (reason) status.textContent = reason
  const field = (name, text, attrs) => {
    const id = uid(name)
    const input = h('input', { id, name, required: true, autocapitalize: 'none', ...attrs })
    return { input, nodes: [h('label', { for: id, text }), input] }
  }
  const org = field('organisation', t('organisation'), { autocomplete: 'organization', value: last?.organisation ?? '' })
  const user = field('username', t('username'), { autocomplete: 'username', value: last?.username ?? last?.me?.username ?? '' })
  const password = field('password', t('password'), { type: 'password', autocomplete: 'current-password' })
  const button = h('button', { type: 'submit', class: 'primary', text: t('log_in') })
  const form = h('form', { class: 'card login', novalidate: true },
    h('h1', { text: t('login_title') }),
    h('p', { class: 'hint', text: t('login_intro') }),
    ...org.nodes, ...user.nodes, ...password.nodes, status, button)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (!org.input.value.trim() || !user.input.value.trim() || !password.input.value) {
      status.textContent = t('login_failed')
      return
    }
    button.disabled = true
    button.textContent = t('logging_in')
    status.textContent = ''
    try {
      await api.login(org.input.value, user.input.value, password.input.value)
      endedReason = null
      if (!location.hash || location.hash === '#login') location.hash = '#map'
      await route()
    } catch (error) {
      if (error instanceof api.FieldAccountError) {
        status.replaceChildren(`${t('field_account')} `, h('a', { href: '/app/', text: `${location.origin}/app/` }))
      } else if (error instanceof api.NetworkError) status.textContent = t('login_offline')
      else if (error.status === 401) status.textContent = error.code === 'invalid_credentials' ? t('login_failed') : t('device_revoked')
      else if (error.status === 429) status.textContent = t('login_limited')
      else status.textContent = t('login_error', { detail: error.message })
      button.disabled = false
      button.textContent = t('log_in')
    }
  })
  main.replaceChildren(h('div', { class: 'login-wrap' }, form))
  ;(org.input.value ? (user.input.value ? password.input : user.input) : org.input).focus()
}

async function loadReference(current) {
  if (referenceFor === current.me.id) return
  const categories = await api.get('/api/v1/categories')
  ctx.categories = Array.isArray(categories) ? categories : categories.items ?? []
  referenceFor = current.me.id
  areasPromise = null
  ctx.refreshCounts()
}

let routing = Promise.resolve()
let firstRender = true

function route() {
  routing = routing.then(render, render)
  return routing
}

async function render() {
  if (Date.now() - toastAt > 1500) toastBox.classList.remove('show')
  const current = api.session()
  setTimeZone(current?.me?.organisation?.time_zone)
  renderHeader(current)
  banner.hidden = true
  if (!current?.refresh_token || !current.me) {
    referenceFor = null
    renderLogin(endedReason ?? (current?.ended ? (current.ended === 'revoked' ? t('device_revoked') : t('session_expired')) : null))
    return
  }
  let [name, ...rest] = (location.hash || '#map').slice(1).split('/')
  if (!VIEWS[name] || (!isStaff() && !PARTNER_VIEWS.includes(name))) {
    history.replaceState(null, '', '#map')
    ;[name, rest] = ['map', []]
  }
  const chosen = name
  for (const link of nav.querySelectorAll('a')) {
    const currentView = link.dataset.view === chosen || (chosen === 'area' && link.dataset.view === 'areas')
    if (currentView) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  document.title = `${t(`nav_${chosen === 'area' ? 'areas' : chosen}`)} – ${t('app_name')}`
  try {
    await loadReference(current)
    const arg = rest.length ? decodeURIComponent(rest.join('/')) : undefined
    await VIEWS[chosen](main, ctx, arg)
    const heading = main.querySelector('h1')
    if (heading) {
      heading.setAttribute('tabindex', '-1')
      if (!firstRender) heading.focus({ preventScroll: true })
    }
    firstRender = false
    window.scrollTo(0, 0)
  } catch (error) {
    if (error instanceof api.SessionError) {
      endedReason = error.kind === 'revoked' ? t('device_revoked') : t('session_expired')
      routing = routing.then(render)
      return
    }
    banner.hidden = false
    banner.textContent = t('load_failed', { detail: error.message })
  }
}

window.addEventListener('hashchange', route)
languageSelect.addEventListener('change', () => {
  setLanguage(languageSelect.value, { remember: true })
  labelShell()
  route()
  ctx.refreshCounts()
})
logoutButton.addEventListener('click', async () => {
  await api.logout()
  endedReason = null
  route()
})
document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault()
  ;(main.querySelector('h1') ?? main).focus()
})
// A login or logout in another tab.
const hasTokens = (text) => {
  try {
    return Boolean(JSON.parse(text ?? 'null')?.refresh_token)
  } catch {
    return false
  }
}
window.addEventListener('storage', (event) => {
  if (event.key === 'lagesbild.dashboard.session' && hasTokens(event.oldValue) !== hasTokens(event.newValue)) route()
})

setLanguage(initialLanguage())
labelShell()
route().then(() => document.body.classList.add('ready'))
