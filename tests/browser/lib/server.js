// The browser suite's server (tests/support/server.js): an organisation bounded by Tyresö, four
// users of the app and dashboard and a partner, and the shortest access tokens allowed, so that
// the app renews its token (rotating the refresh token) during the scenario.

'use strict'

const support = require('../../support/server')

// Roughly Tyresö municipality: positions outside it are quarantined.
const BBOX = '59.15,18.10,59.32,18.45'

// username → role; every user is in the unit `falt`.
const USERS = {
  anna: 'field',
  bo: 'field',
  frida: 'field',
  carla: 'coordinator',
  dora: 'admin',
  erik: 'partner',
}

/** Starts a server; `env` adds settings (such as `LAGESBILD_TILE_URL`). */
function startServer({ env = {} } = {}) {
  return support.startServer({
    prefix: 'br',
    users: USERS,
    bbox: BBOX,
    env: { LAGESBILD_ACCESS_TOKEN_TTL_SECS: '30', ...env },
  })
}

module.exports = { startServer, USERS, ORG: support.ORG, UNIT: support.UNIT }
