// The server, as both web clients speak to it: requests whose failures are typed errors, the
// login that opens a session, and access tokens that renew themselves once at a time across
// every tab (refresh tokens rotate: each works once, and a spent one ends the session). Where
// the session is kept differs (the field app in IndexedDB, the dashboard in localStorage): each
// client passes its own store.

/** The request never reached the server, or its answer never came back. */
export class NetworkError extends Error {}

/** The server answered with a problem document. */
export class HttpError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`)
    this.status = status
    this.code = problem?.code
    this.problem = problem
  }
}

/** The session can no longer be used: `expired` (log in again) or `revoked` (ask an administrator). */
export class SessionError extends Error {
  constructor(kind) {
    super(kind)
    this.kind = kind
  }
}

/** Codes of a 401 that mean the device or the account was shut out, not that a token lapsed. */
const REVOKED = ['device_revoked', 'account_disabled']

/** A request, answered with its response when 2xx; otherwise a NetworkError or an HttpError. */
export async function send(path, init = {}) {
  let response
  try {
    response = await fetch(path, { ...init, cache: 'no-store', credentials: 'omit' })
  } catch (error) {
    throw new NetworkError(error.message)
  }
  if (response.ok) return response
  let problem = null
  try {
    problem = await response.json()
  } catch {
    // not a problem document (a proxy's page, a cut connection)
  }
  throw new HttpError(response.status, problem)
}

/** A UUIDv7: time-ordered, unique without coordination. */
export function uuidv7() {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let now = Date.now()
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = now % 256
    now = Math.floor(now / 256)
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** A fresh random id. `crypto.randomUUID` needs a secure context, which a page on a LAN address
 * over plain HTTP does not have: then a UUIDv7. */
export function randomId() {
  return crypto.randomUUID ? crypto.randomUUID() : uuidv7()
}

/** The session with the tokens of a login or a refresh, and when the access token lapses. */
function withTokens(current, tokens) {
  const ttl = (tokens.expires_in ?? 900) * 1000
  return {
    ...current,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    access_expires_at: Date.now() + ttl,
    access_ttl_ms: ttl,
  }
}

/**
 * Logs in as this device and reads who the user is: the new session, not yet stored (the
 * caller decides whether to keep it).
 */
export async function openSession({ organisation, username, password, device_id, device_name, device_kind }) {
  const response = await send('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organisation, username, password, device_id, device_name, device_kind }),
  })
  const session = withTokens({ organisation: organisation.trim().toLowerCase(), device_id }, await response.json())
  const me = await send('/api/v1/me', { headers: { authorization: `Bearer ${session.access_token}` } })
  return { ...session, me: await me.json() }
}

/**
 * A client over a session store: `{ load(), save(session), ended(session, kind) }`, where
 * `ended` gives what to keep of a session that has ended (`expired` or `revoked`). `lock` names
 * the lock that keeps one refresh at a time across the tabs of this client.
 * Returns `{ refresh(stale), authorised(path, init) }`.
 */
export function sessionClient({ store, lock }) {
  let refreshing = null

  /**
   * Trades the refresh token for new tokens. `stale` is the access token the caller found
   * wanting; a tab that finds another already replaced it takes the new one.
   */
  function refresh(stale) {
    const exchange = async () => {
      const current = await store.load()
      if (!current?.refresh_token) throw new SessionError(current?.ended ?? 'expired')
      if (current.access_token && current.access_token !== stale && current.access_expires_at > Date.now() + 5_000) {
        return current
      }
      try {
        const response = await send('/api/v1/auth/refresh', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: current.refresh_token }),
        })
        const next = withTokens(current, await response.json())
        await store.save(next)
        return next
      } catch (error) {
        if (error instanceof HttpError && error.status === 401) {
          const kind = REVOKED.includes(error.code) ? 'revoked' : 'expired'
          await store.save(store.ended(current, kind))
          throw new SessionError(kind)
        }
        throw error
      }
    }
    refreshing ??= (navigator.locks ? navigator.locks.request(lock, exchange) : exchange()).finally(() => {
      refreshing = null
    })
    return refreshing
  }

  /** A request with the access token, renewed shortly before it lapses or when refused. */
  async function authorised(path, init = {}) {
    let current = await store.load()
    if (!current?.refresh_token) throw new SessionError(current?.ended ?? 'expired')
    // Renew a little before expiry, so a request does not start with a token about to lapse.
    const margin = Math.min(30_000, (current.access_ttl_ms ?? 900_000) / 4)
    if (!current.access_token || current.access_expires_at < Date.now() + margin) {
      current = await refresh(current.access_token)
    }
    const attempt = (token) => send(path, { ...init, headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` } })
    try {
      return await attempt(current.access_token)
    } catch (error) {
      if (!(error instanceof HttpError) || error.status !== 401) throw error
      if (REVOKED.includes(error.code)) {
        await store.save(store.ended(current, 'revoked'))
        throw new SessionError('revoked')
      }
      return attempt((await refresh(current.access_token)).access_token)
    }
  }

  return { refresh, authorised }
}
