// The dashboard's side of the server: its session kept in localStorage, this browser's device
// id, requests that carry the tokens (the shared client in ../common/client.js does the sending
// and the renewing), and downloads saved under the server's file name.

import { HttpError, NetworkError, SessionError, openSession, randomId, send, sessionClient } from '../common/client.js'

export { HttpError, NetworkError, SessionError }

const SESSION_KEY = 'lagesbild.dashboard.session'
const DEVICE_KEY = 'lagesbild.dashboard.device'

/** The account is a field account, which has the field app instead. */
export class FieldAccountError extends Error {}

/** The stored session: tokens, their expiry, and the user (`me`). */
export function session() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null')
  } catch {
    return null
  }
}

function saveSession(value) {
  if (value) localStorage.setItem(SESSION_KEY, JSON.stringify(value))
  else localStorage.removeItem(SESSION_KEY)
}

/** What the login page remembers of a session that has ended: who it was, not its tokens. */
function remembered(current, ended) {
  return { organisation: current.organisation, username: current.me?.username, ...(ended ? { ended } : {}) }
}

const client = sessionClient({
  store: { load: session, save: saveSession, ended: remembered },
  lock: 'lagesbild-dashboard-refresh',
})

/** This browser's device id, made once and kept, so logging in again is the same device. */
function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY)
  if (!id) {
    id = randomId()
    localStorage.setItem(DEVICE_KEY, id)
  }
  return id
}

function deviceName() {
  const ua = navigator.userAgent
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom/.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'webbläsare'
  return `Dashboard (${browser})`
}

/** Logs in and keeps the session. Field accounts are turned away (and logged out again). */
export async function login(organisation, username, password) {
  const current = await openSession({
    organisation: organisation.trim(),
    username: username.trim(),
    password,
    device_id: deviceId(),
    device_name: deviceName(),
    device_kind: 'dashboard',
  })
  if (current.me.role === 'field') {
    await send('/api/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${current.access_token}` } }).catch(() => {})
    throw new FieldAccountError('field account')
  }
  saveSession(current)
  return current
}

export async function logout() {
  if (session()?.refresh_token) await request('/api/v1/auth/logout', { method: 'POST' }).catch(() => {})
  const last = session()
  saveSession(last ? remembered(last) : null)
}

/** A request with the access token, renewed shortly before it expires or when refused. */
export function request(path, { method = 'GET', body, headers = {} } = {}) {
  return client.authorised(path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

export async function get(path) {
  return (await request(path)).json()
}

export async function patch(path, body) {
  return (await request(path, { method: 'PATCH', body })).json()
}

export async function post(path, body) {
  return (await request(path, { method: 'POST', body })).json()
}

/** DELETE; resolves when the server answered 2xx. */
export async function remove(path) {
  await request(path, { method: 'DELETE' })
}

/** Bytes fetched with the token, as a blob: what an <img> cannot fetch itself (photos). */
export async function blob(path) {
  return (await request(path)).blob()
}

/** The file name a `Content-Disposition` header gives (RFC 6266, `filename*` first). */
export function filenameOf(disposition, fallback) {
  if (!disposition) return fallback
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition)
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim())
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"/.exec(disposition) ?? /filename\s*=\s*([^;]+)/.exec(disposition)
  const name = plain?.[1]?.trim()
  // Never a path: only the last segment.
  return name ? name.split(/[\\/]/).pop() : fallback
}

/** Fetches a file with the token; returns its bytes as a blob and the server's file name. */
export async function fetchFile(path, fallbackName) {
  const response = await request(path)
  const blob = await response.blob()
  return { blob, filename: filenameOf(response.headers.get('content-disposition'), fallbackName) }
}
