// The server as a coordinator sees it, to check what the phone sent.

'use strict'

async function token(server, username, deviceId) {
  const response = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organisation: server.org, username, password: server.password, device_id: deviceId }),
  })
  if (!response.ok) throw new Error(`login of ${username} failed: ${response.status} ${await response.text()}`)
  return (await response.json()).access_token
}

/** A user's view of the API; logs in again for each request, as access tokens here live 30 s. */
async function login(server, username, deviceId) {
  await token(server, username, deviceId)
  const send = async (method, path, body) => {
    const access = await token(server, username, deviceId)
    const answer = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    })
    if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`)
    return answer.json()
  }
  return {
    async get(path) {
      const access = await token(server, username, deviceId)
      const answer = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${access}` } })
      if (!answer.ok) throw new Error(`GET ${path}: ${answer.status} ${await answer.text()}`)
      return answer.json()
    },
    /** A first pull, as a device of this user. */
    async pull() {
      const access = await token(server, username, deviceId)
      const answer = await fetch(`${server.url}/api/v1/sync/pull?last_pulled_at=null&schema_version=1`, {
        headers: { authorization: `Bearer ${access}` },
      })
      if (!answer.ok) throw new Error(`pull: ${answer.status} ${await answer.text()}`)
      return answer.json()
    },
    async push(lastPulledAt, changes) {
      const access = await token(server, username, deviceId)
      const answer = await fetch(`${server.url}/api/v1/sync/push?last_pulled_at=${lastPulledAt}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
        body: JSON.stringify(changes),
      })
      if (!answer.ok) throw new Error(`push: ${answer.status} ${await answer.text()}`)
      return answer.json()
    },
    patch(path, body) {
      return send('PATCH', path, body)
    },
    post(path, body) {
      return send('POST', path, body)
    },
    put(path, body) {
      return send('PUT', path, body)
    },
  }
}

module.exports = { login }
