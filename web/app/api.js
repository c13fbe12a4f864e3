// The field app's side of the server: its session kept in IndexedDB with the records, this
// install's device id, and requests that carry the tokens (the shared client in
// ../common/client.js does the sending and the renewing).

import * as db from './db.js'
import { HttpError, NetworkError, SessionError, openSession, randomId, sessionClient, uuidv7 } from '../common/client.js'

export { HttpError, NetworkError, SessionError, uuidv7 }

/** The session as the field app keeps it; an ended one keeps its user, without tokens. */
const store = {
  load: () => db.setting('session'),
  save: (session) => db.saveSetting('session', session),
  ended: (current, kind) => ({ ...current, access_token: null, refresh_token: null, ended: kind }),
}

const client = sessionClient({ store, lock: 'lagesbild-refresh' })

/** This install's device id, made once and kept for its life. */
export async function deviceId() {
  let id = await db.setting('device_id')
  if (!id) {
    id = randomId()
    await db.saveSetting('device_id', id)
  }
  return id
}

function deviceName() {
  const ua = navigator.userAgent
  const kind = /iPhone|iPad/.test(ua) ? 'iPhone' : /Android/.test(ua) ? 'Android' : 'webbläsare'
  return `Fältappen (${kind})`
}

/** Logs in, registers this device, and keeps the session. Returns the session. */
export async function login(organisation, username, password) {
  const device_id = await deviceId()
  const session = await openSession({ organisation, username, password, device_id, device_name: deviceName(), device_kind: 'phone' })
  // Another user's records never stay on a shared phone.
  const previous = await db.setting('session_user')
  if (previous && previous !== session.me.id) await db.clearData()
  await db.saveSetting('session_user', session.me.id)
  await store.save(session)
  return session
}

export const session = () => store.load()

export async function logout() {
  const current = await session()
  if (current?.refresh_token) {
    const ended = authorised('/api/v1/auth/logout', { method: 'POST' }).catch(() => {})
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 3000))])
  }
  await db.clearData()
  await db.saveSetting('session', null)
  await db.saveSetting('session_user', null)
}

/**
 * Gives this phone the label its user chose (empty clears it), so whoever manages devices can
 * tell it from the rest. Needs the network. Returns the session with the device as it now is.
 */
export async function labelDevice(text) {
  const response = await authorised('/api/v1/me/device', {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ label: text.trim() || null }),
  })
  const device = await response.json()
  const current = await session()
  const next = { ...current, me: { ...current.me, device } }
  await store.save(next)
  return next
}

/** A request with the access token (and any `extraHeaders`), renewed when it has expired. */
export function authorised(path, init = {}, extraHeaders = {}) {
  return client.authorised(path, { ...init, headers: { ...(init.headers ?? {}), ...extraHeaders } })
}
