// The WatermelonDB suite's server (tests/support/server.js): an organisation without a bounding
// box, two field users, a coordinator and an admin.

'use strict'

const support = require('../../support/server')

// username → role; every user is in the unit `falt`.
const USERS = {
  anna: 'field',
  bo: 'field',
  carla: 'coordinator',
  dora: 'admin',
}

/** Starts a server. Returns { url, userIds, stop(), log() }. */
function startServer() {
  return support.startServer({ prefix: 'wm', users: USERS })
}

module.exports = { startServer, USERS, ORG: support.ORG, UNIT: support.UNIT }
