// WatermelonDB's own synchronize() (LokiJS adapter, in memory) against a running lagesbild
// server: the real third-party client of the sync protocol.
//
//   cd tests/watermelon && npm ci && LAGESBILD_BIN=…/debug/lagesbild node --test
//
// LAGESBILD_TEST_POSTGRES_URL=postgres://…/postgres runs the server on a fresh PostgreSQL
// database (created and dropped with psql); LAGESBILD_TEST_LOG=1 prints the server's log and
// WatermelonDB's own messages.

'use strict'

const { test, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { startServer } = require('./lib/server')
const { Session, Phone, takeWatermelonErrors } = require('./lib/phone')

let server
let coordinator // carla, on the dashboard
let admin // dora

before(async () => {
  server = await startServer()
  coordinator = await new Session(server, 'carla', 'carla-dashboard').login()
  admin = await new Session(server, 'dora', 'dora-laptop').login()
})

after(async () => {
  if (server) await server.stop()
})

// Every anomaly WatermelonDB noticed must have been expected by the test that provoked it.
afterEach(() => {
  const unexpected = takeWatermelonErrors()
  assert.deepEqual(unexpected, [], 'WatermelonDB logged sync errors that the test did not expect')
})

let observationCount = 0

/** The columns a phone fills in for a new observation. */
function observationFields(overrides = {}) {
  observationCount += 1
  return {
    category: 'vandalism',
    severity: 3,
    perceived_safety: 2,
    people_count: 4,
    age_band: '13_15',
    note: `observation ${observationCount}`,
    lat: 59.244,
    lon: 18.228,
    accuracy_m: 12.5,
    observed_at: Date.now() - 60_000,
    needs_follow_up: false,
    status: 'new',
    ...overrides,
  }
}

/** The columns a phone fills in for a new activity log (no position). */
function activityFields(overrides = {}) {
  const started = Date.now() - 3 * 3_600_000
  return {
    activity_type: 'outreach_shift',
    unit: 'falt',
    started_at: started,
    ended_at: started + 2 * 3_600_000,
    girls: 2,
    boys: 1,
    gender_other: 0,
    gender_unknown: 0,
    age_under_13: 0,
    age_13_15: 3,
    age_16_17: 0,
    age_18_24: 0,
    age_25_plus: 0,
    age_unknown: 0,
    note: 'pass',
    ...overrides,
  }
}

/** The server's copy of an observation as the coordinator sees it, or null. */
async function onServer(id) {
  try {
    return await coordinator.get(`/api/v1/observations/${id}`)
  } catch (error) {
    if (error.status === 404) return null
    throw error
  }
}

/** How often the coordinator's list shows this id. */
async function timesListed(id) {
  let count = 0
  let after = null
  do {
    const page = await coordinator.get(`/api/v1/observations?limit=1000${after ? `&after=${after}` : ''}`)
    count += page.items.filter((item) => item.id === id).length
    after = page.next
  } while (after)
  return count
}

/** The ids of a user's stored observations, as the coordinator lists them. */
async function mineOnServer(username) {
  const found = []
  let after = null
  do {
    const page = await coordinator.get(`/api/v1/observations?limit=1000${after ? `&after=${after}` : ''}`)
    found.push(...page.items.filter((item) => item.user_id === server.userIds[username]).map((item) => item.id))
    after = page.next
  } while (after)
  return found.sort()
}

/** The per-record result of the phone's last push. */
function pushResult(phone, id) {
  assert.ok(phone.lastPush, 'the phone pushed')
  const result = phone.lastPush.body.results.find((r) => r.id === id)
  assert.ok(result, `the push answered ${id}: ${JSON.stringify(phone.lastPush.body)}`)
  return result
}

function ids(list) {
  return list.map((item) => (typeof item === 'string' ? item : item.id)).sort()
}

/** Takes WatermelonDB's logged errors, asserting each matches one of the patterns. */
function expectWatermelonErrors(...patterns) {
  const errors = takeWatermelonErrors()
  for (const error of errors) {
    assert.ok(patterns.some((p) => p.test(error)), `unexpected WatermelonDB error: ${error}`)
  }
  return errors
}

test('1. a first sync brings the reference data; the next one is empty', async () => {
  const phone = await Phone.open(server, 'anna', 's1-phone')
  assert.equal(await phone.lastPulledAt(), null)
  await phone.sync()

  assert.equal(await phone.count('categories'), 13)
  assert.equal(await phone.count('activity_types'), 10)
  const units = await phone.all('units')
  assert.deepEqual(units.map((u) => [u.slug, u.name]), [['falt', 'Fältassistenter']])
  const vandalism = (await phone.all('categories')).find((c) => c.slug === 'vandalism')
  assert.equal(vandalism.label_sv, 'Skadegörelse')
  assert.equal(vandalism.label_en, 'Vandalism')
  assert.equal(vandalism.active, true)
  assert.equal(vandalism.syncStatus, 'synced')
  assert.equal(await phone.count('observations'), 0)
  assert.equal(await phone.hasUnsyncedChanges(), false)

  const timestamp = await phone.lastPulledAt()
  assert.ok(timestamp >= 1, `timestamp ${timestamp}`)
  assert.ok(phone.lastPull.pages > 1, 'the 24 reference rows came in several pages of 7')
  assert.equal(phone.lastPush, null, 'nothing to push')

  await phone.sync()
  for (const [table, changes] of Object.entries(phone.lastPull.changes)) {
    assert.deepEqual(changes, { created: [], updated: [], deleted: [] }, `${table} is unchanged`)
  }
  assert.ok((await phone.lastPulledAt()) >= timestamp)
  assert.equal(await phone.count('categories'), 13)
})

test('2. an observation made on one phone is pushed, synced, and reaches the same user’s other phone only', async () => {
  const phone = await Phone.open(server, 'anna', 's2-phone')
  const tablet = await Phone.open(server, 'anna', 's2-tablet')
  const bos = await Phone.open(server, 'bo', 's2-bo')
  for (const p of [phone, tablet, bos]) await p.sync()

  const record = await phone.create('observations', observationFields({ note: 'Krossad ruta vid busshållplatsen' }))
  const activity = await phone.create('activity_logs', activityFields({ note: 'Kvällspass i centrum' }))
  assert.equal(record.syncStatus, 'created')
  await phone.sync()

  assert.equal(pushResult(phone, record.id).status, 'applied')
  assert.equal(pushResult(phone, activity.id).status, 'applied')
  assert.equal((await phone.find('activity_logs', activity.id)).syncStatus, 'synced')
  const storedActivity = await coordinator.get(`/api/v1/activities/${activity.id}`)
  assert.equal(storedActivity.activity_type, 'outreach_shift')
  assert.equal(storedActivity.girls, 2)
  assert.equal(storedActivity.age_13_15, 3)
  assert.equal(storedActivity.ended_at, activity.ended_at)
  assert.deepEqual(phone.lastPush.body.experimentalRejectedIds, {})
  assert.equal((await phone.find('observations', record.id)).syncStatus, 'synced')
  assert.equal(await phone.hasUnsyncedChanges(), false)

  const stored = await onServer(record.id)
  assert.equal(stored.note, 'Krossad ruta vid busshållplatsen')
  assert.equal(stored.user_id, server.userIds.anna)
  assert.equal(stored.device_id, 's2-phone')
  assert.equal(stored.status, 'new')

  await tablet.sync()
  assert.deepEqual(ids(tablet.lastPull.changes.observations.created), [record.id])
  const copy = await tablet.find('observations', record.id)
  assert.ok(copy, 'the tablet has it')
  assert.equal(copy.syncStatus, 'synced')
  assert.equal(copy.note, 'Krossad ruta vid busshållplatsen')
  assert.equal(copy.user_id, server.userIds.anna)
  assert.equal(copy.severity, 3)
  assert.equal(copy.age_band, '13_15')
  assert.equal(copy.sync_error, null)

  const tabletActivity = await tablet.find('activity_logs', activity.id)
  assert.equal(tabletActivity.note, 'Kvällspass i centrum')
  assert.equal(tabletActivity.unit, 'falt')
  assert.equal(tabletActivity.boys, 1)
  assert.equal(tabletActivity.lat, null)

  await bos.sync()
  assert.equal(await bos.find('observations', record.id), null, 'another field user does not get it')
  assert.equal(await bos.find('activity_logs', activity.id), null)

  // The pushing phone gets its own record back as `updated`, with the server's columns.
  await phone.sync()
  assert.deepEqual(ids(phone.lastPull.changes.observations.updated), [record.id])
  assert.deepEqual(phone.lastPull.changes.observations.created, [])
  assert.equal((await phone.find('observations', record.id)).user_id, server.userIds.anna)

  // The sync headers reach the device list.
  const device = (await coordinator.get('/api/v1/devices')).find((d) => d.id === 's2-phone')
  assert.equal(device.pending_count, 0)
  assert.ok(device.last_push_at && device.last_pull_at)
  assert.ok(Math.abs(device.clock_skew_ms) < 5_000, `skew ${device.clock_skew_ms}`)
})

test('3. a push whose response is lost is retried by the next sync and stored exactly once', async () => {
  const phone = await Phone.open(server, 'anna', 's3-phone')
  await phone.sync()
  const record = await phone.create('observations', observationFields({ note: 'Klotter på skolans gavel' }))
  const activity = await phone.create('activity_logs', activityFields({ note: 'Trygghetsvandring' }))

  await assert.rejects(phone.sync({ losePushResponse: true }), /push response was lost/)
  assert.equal(pushResult(phone, record.id).status, 'applied', 'the server stored it')
  assert.equal(pushResult(phone, activity.id).status, 'applied')
  assert.equal((await phone.find('observations', record.id)).syncStatus, 'created', 'the phone does not know')
  assert.ok(await onServer(record.id))

  await phone.sync()
  assert.equal(pushResult(phone, record.id).status, 'unchanged', 'the replay is recognised')
  assert.equal(pushResult(phone, activity.id).status, 'unchanged')
  assert.equal((await phone.find('activity_logs', activity.id)).syncStatus, 'synced')
  assert.deepEqual(await coordinator.get(`/api/v1/activities/${activity.id}/history`), [])
  assert.deepEqual(phone.lastPush.body.experimentalRejectedIds, {})
  const local = await phone.find('observations', record.id)
  assert.equal(local.syncStatus, 'synced')
  assert.equal(local.note, 'Klotter på skolans gavel')
  assert.equal(await timesListed(record.id), 1)
  const history = await coordinator.get(`/api/v1/observations/${record.id}/history`)
  assert.deepEqual(history, [], 'the replay changed nothing')
})

test('4. one valid, one invalid and one conflicting record in one push', async () => {
  const phone = await Phone.open(server, 'anna', 's4-phone')
  const tablet = await Phone.open(server, 'anna', 's4-tablet')
  await phone.sync()
  const contested = await phone.create('observations', observationFields({ note: 'first' }))
  await phone.sync()
  await tablet.sync()
  assert.ok(await tablet.find('observations', contested.id))

  await phone.update(contested, { note: 'edited on the phone' })
  const valid = await phone.create('observations', observationFields({ note: 'ok' }))
  const invalid = await phone.create('observations', observationFields({ note: 'bad', severity: 9 }))

  // The tablet edits the same record between the phone's pull and its push.
  await phone.sync({
    beforePush: async (changes) => {
      assert.equal(changes.observations.updated.length, 1)
      await tablet.update(await tablet.find('observations', contested.id), { note: 'edited on the tablet' })
      await tablet.sync()
      assert.equal(pushResult(tablet, contested.id).status, 'applied')
    },
  })

  assert.equal(pushResult(phone, valid.id).status, 'applied')
  assert.equal(pushResult(phone, invalid.id).status, 'quarantined')
  assert.deepEqual(pushResult(phone, invalid.id).errors.map((e) => e.field), ['severity'])
  const refused = pushResult(phone, invalid.id).errors
  assert.equal(pushResult(phone, contested.id).status, 'conflict')
  assert.deepEqual(phone.lastPush.body.experimentalRejectedIds, { observations: [contested.id] })

  // WatermelonDB keeps only the rejected (conflicting) record unsynced. The quarantined one is not
  // rejected, so it is marked synced like the valid one; the server sends it back with its error.
  assert.equal((await phone.find('observations', valid.id)).syncStatus, 'synced')
  assert.equal((await phone.find('observations', invalid.id)).syncStatus, 'synced')
  const stillDirty = await phone.find('observations', contested.id)
  assert.equal(stillDirty.syncStatus, 'updated')
  assert.equal(stillDirty.note, 'edited on the phone')

  const quarantine = await coordinator.get('/api/v1/sync/quarantine')
  const entry = quarantine.find((q) => q.id === invalid.id)
  assert.ok(entry, 'coordinators see the quarantined record')
  assert.equal(entry.resolved, false)
  assert.equal(entry.username, 'anna')
  assert.equal(entry.device_id, 's4-phone')
  assert.equal(entry.payload.severity, 9)
  assert.equal(await onServer(invalid.id), null, 'not stored')
  assert.equal((await onServer(contested.id)).note, 'edited on the tablet')

  // The next sync pulls the tablet's version (the phone's edited column wins locally), pushes the
  // merge with a fresh cursor, and brings the invalid record back with its error.
  await phone.sync()
  const pulledIds = ids(phone.lastPull.changes.observations.updated)
  assert.ok(pulledIds.includes(invalid.id) && pulledIds.includes(contested.id), JSON.stringify(pulledIds))
  assert.equal(pushResult(phone, contested.id).status, 'applied')
  assert.deepEqual(phone.lastPush.body.experimentalRejectedIds, {})
  const resolved = await phone.find('observations', contested.id)
  assert.equal(resolved.syncStatus, 'synced')
  assert.equal(resolved.note, 'edited on the phone')
  assert.equal((await onServer(contested.id)).note, 'edited on the phone')
  const back = await phone.find('observations', invalid.id)
  assert.equal(back.syncStatus, 'synced')
  assert.match(back.sync_error, /severity/)
  assert.equal(back.severity, 9, 'the phone keeps what the user entered, to fix it')
  assert.equal(back.note, 'bad')
  assert.equal(await phone.hasUnsyncedChanges(), false)

  // The tablet gets the merged record; as the same user's device it also gets the quarantined one,
  // with the fields at fault and their codes.
  await tablet.sync()
  assert.equal((await tablet.find('observations', contested.id)).note, 'edited on the phone')
  const onTablet = await tablet.find('observations', invalid.id)
  assert.match(onTablet.sync_error, /severity/)
  assert.deepEqual(
    JSON.parse(onTablet.sync_errors).map((error) => [error.field, error.code]),
    refused.map((error) => [error.field, error.code]),
  )

  // The user fixes the record: it is stored, the quarantine is resolved, the error cleared.
  await phone.update(back, { severity: 4 })
  await phone.sync()
  assert.equal(pushResult(phone, invalid.id).status, 'applied')
  assert.equal((await onServer(invalid.id)).severity, 4)
  const after = (await coordinator.get('/api/v1/sync/quarantine')).find((q) => q.id === invalid.id)
  assert.equal(after.resolved, true)
  await phone.sync()
  assert.equal((await phone.find('observations', invalid.id)).sync_error, null)
  assert.equal((await phone.find('observations', invalid.id)).sync_errors, null)

})

test('4b. the author’s other phone, which got the quarantined version, gets the fixed record as an update', async () => {
  const phone = await Phone.open(server, 'anna', 's4b-phone')
  const tablet = await Phone.open(server, 'anna', 's4b-tablet')
  await phone.sync()
  await tablet.sync()
  const invalid = await phone.create('observations', observationFields({ note: 'fel', severity: 9 }))
  await phone.sync()
  assert.equal(pushResult(phone, invalid.id).status, 'quarantined')

  // The tablet receives the quarantined version (new to it: `created`), with its error.
  await tablet.sync()
  assert.deepEqual(ids(tablet.lastPull.changes.observations.created), [invalid.id])
  assert.match((await tablet.find('observations', invalid.id)).sync_error, /severity/)

  await phone.sync()
  await phone.update(await phone.find('observations', invalid.id), { severity: 2 })
  await phone.sync()
  assert.equal(pushResult(phone, invalid.id).status, 'applied')

  // The tablet has the record already: the stored version must come as `updated`, else
  // WatermelonDB logs "Server wants client to create record …, but it already exists locally".
  await tablet.sync()
  const noted = takeWatermelonErrors()
  const fixed = await tablet.find('observations', invalid.id)
  assert.equal(fixed.severity, 2)
  assert.equal(fixed.sync_error, null)
  const pulled = tablet.lastPull.changes.observations
  assert.deepEqual(
    { created: ids(pulled.created), updated: ids(pulled.updated) },
    { created: [], updated: [invalid.id] },
    'the tablet already has this record (the server sent it the quarantined version): it must come as `updated`',
  )
  assert.deepEqual(noted, [])
})

test('5. the reporter’s note and the coordinator’s status merge per column', async () => {
  const phone = await Phone.open(server, 'anna', 's5-phone')
  await phone.sync()
  const record = await phone.create('observations', observationFields({ note: 'Trasig belysning i tunneln' }))
  await phone.sync()

  // Offline, the reporter edits the note; meanwhile the coordinator reviews on the dashboard.
  await phone.update(record, { note: 'Trasig belysning i tunneln, två lampor' })
  await coordinator.patch(`/api/v1/observations/${record.id}`, {
    status: 'forwarded',
    review_comment: 'Skickat till Tybo',
  })
  await phone.sync()

  assert.equal(pushResult(phone, record.id).status, 'applied')
  let local = await phone.find('observations', record.id)
  assert.equal(local.syncStatus, 'synced')
  assert.equal(local.note, 'Trasig belysning i tunneln, två lampor')
  assert.equal(local.status, 'forwarded')
  assert.equal(local.review_comment, 'Skickat till Tybo')
  let stored = await onServer(record.id)
  assert.equal(stored.note, 'Trasig belysning i tunneln, två lampor')
  assert.equal(stored.status, 'forwarded')
  assert.equal(stored.reviewed_by, server.userIds.carla)

  // The coordinator reviews again between the phone's pull and its push: still no conflict, the
  // phone's (stale) status is not the reporter's to set, and the next pull brings the review.
  await phone.update(local, { note: 'Trasig belysning i tunneln, tre lampor' })
  await phone.sync({
    beforePush: () => coordinator.patch(`/api/v1/observations/${record.id}`, { status: 'closed' }),
  })
  assert.equal(pushResult(phone, record.id).status, 'applied')
  stored = await onServer(record.id)
  assert.equal(stored.note, 'Trasig belysning i tunneln, tre lampor')
  assert.equal(stored.status, 'closed')
  await phone.sync()
  local = await phone.find('observations', record.id)
  assert.equal(local.note, 'Trasig belysning i tunneln, tre lampor')
  assert.equal(local.status, 'closed')
  assert.equal(local.syncStatus, 'synced')
})

test('5b. a coordinator reviews on a phone: the status syncs to the reporter, the content stays theirs', async () => {
  const reporter = await Phone.open(server, 'anna', 's5b-phone')
  const reviewer = await Phone.open(server, 'carla', 's5b-coordinator-phone')
  await reporter.sync()
  const record = await reporter.create('observations', observationFields({ note: 'Samling vid fritidsgården' }))
  await reporter.sync()

  await reviewer.sync()
  const copy = await reviewer.find('observations', record.id)
  assert.ok(copy, 'a coordinator gets every record of the organisation')
  assert.ok(ids(reviewer.lastPull.changes.observations.created).includes(record.id))
  await reviewer.update(copy, { status: 'reviewed', review_comment: 'Följs upp på SSPF', note: 'not the coordinator’s' })
  await reviewer.sync()
  assert.equal(pushResult(reviewer, record.id).status, 'applied')
  assert.equal((await reviewer.find('observations', record.id)).syncStatus, 'synced')

  const stored = await onServer(record.id)
  assert.equal(stored.status, 'reviewed')
  assert.equal(stored.review_comment, 'Följs upp på SSPF')
  assert.equal(stored.note, 'Samling vid fritidsgården', 'a coordinator does not rewrite the reporter’s note')

  await reporter.sync()
  const local = await reporter.find('observations', record.id)
  assert.equal(local.status, 'reviewed')
  assert.equal(local.review_comment, 'Följs upp på SSPF')
  assert.equal(local.note, 'Samling vid fritidsgården')
  // The coordinator's phone gets the server's version back: its own note edit is undone.
  await reviewer.sync()
  assert.equal((await reviewer.find('observations', record.id)).note, 'Samling vid fritidsgården')
})

test('6. a delete is pushed, leaves the server’s lists and reaches the other phone', async () => {
  const phone = await Phone.open(server, 'anna', 's6-phone')
  const tablet = await Phone.open(server, 'anna', 's6-tablet')
  await phone.sync()
  const record = await phone.create('observations', observationFields({ note: 'att radera' }))
  const kept = await phone.create('observations', observationFields({ note: 'att behålla' }))
  await phone.sync()
  await tablet.sync()
  assert.ok(await tablet.find('observations', record.id))

  await phone.markAsDeleted(record)
  assert.deepEqual(await phone.deletedIds('observations'), [record.id])
  await phone.sync()
  assert.deepEqual(phone.lastPush.changes.observations.deleted, [record.id])
  assert.equal(pushResult(phone, record.id).status, 'applied')
  assert.deepEqual(await phone.deletedIds('observations'), [], 'destroyed for good once the server has it')
  assert.equal(await phone.find('observations', record.id), null)

  assert.equal(await onServer(record.id), null)
  assert.equal(await timesListed(record.id), 0)
  assert.equal(await timesListed(kept.id), 1)

  await tablet.sync()
  assert.deepEqual(tablet.lastPull.changes.observations.deleted, [record.id])
  assert.equal(await tablet.find('observations', record.id), null)
  assert.ok(await tablet.find('observations', kept.id))
})

test('6b. a delete whose response is lost is finished by the next pull', async () => {
  const phone = await Phone.open(server, 'anna', 's6b-phone')
  await phone.sync()
  const record = await phone.create('observations', observationFields({ note: 'dubblett' }))
  await phone.sync()
  await phone.markAsDeleted(record)

  await assert.rejects(phone.sync({ losePushResponse: true }), /push response was lost/)
  assert.equal(pushResult(phone, record.id).status, 'applied')
  assert.deepEqual(await phone.deletedIds('observations'), [record.id], 'still waiting to be pushed')
  assert.equal(await onServer(record.id), null)

  await phone.sync()
  assert.deepEqual(phone.lastPull.changes.observations.deleted, [record.id])
  assert.equal(phone.lastPush, null, 'the tombstone settled it: nothing left to push')
  assert.deepEqual(await phone.deletedIds('observations'), [])
  assert.equal(await phone.hasUnsyncedChanges(), false)
})

test('7a. a revoked device can no longer sync, and keeps its unsynced records', async () => {
  const phone = await Phone.open(server, 'anna', 's7-lost-phone')
  await phone.sync()
  const record = await phone.create('observations', observationFields({ note: 'gjord innan spärren' }))
  await coordinator.post('/api/v1/devices/s7-lost-phone/revoke', {})

  await assert.rejects(phone.sync(), (error) => {
    assert.equal(error.status, 401)
    assert.equal(error.code, 'device_revoked')
    return true
  })
  assert.equal((await phone.find('observations', record.id)).syncStatus, 'created')
  assert.equal(await onServer(record.id), null)
  await assert.rejects(phone.refresh(), (error) => error.status === 401)
})

test('7b. a role change ends the scope: after a refresh, a replacement snapshot removes the records', async () => {
  const phone = await Phone.open(server, 'bo', 's7-bo')
  await phone.sync()
  const first = await phone.create('observations', observationFields({ note: 'bo 1' }))
  const second = await phone.create('observations', observationFields({ note: 'bo 2' }))
  await phone.sync()
  assert.equal((await phone.find('observations', first.id)).syncStatus, 'synced')
  assert.equal((await phone.find('observations', second.id)).syncStatus, 'synced')

  await admin.patch(`/api/v1/users/${server.userIds.bo}`, { role: 'partner' })
  await assert.rejects(phone.sync(), (error) => {
    assert.equal(error.status, 401, 'the old access token stopped working')
    assert.equal(error.code, 'invalid_token')
    return true
  })
  await phone.refresh()
  assert.equal((await phone.get('/api/v1/me')).role, 'partner')

  await phone.sync()
  assert.equal(phone.lastPull.experimentalStrategy, 'replacement')
  assert.equal(await phone.count('observations'), 0, 'the records left the phone')
  assert.equal(await phone.count('categories'), 13)
  assert.equal(await phone.count('activity_types'), 10)
  assert.equal(await phone.count('units'), 1)
  // The snapshot resends the reference data as `created`, which the phone has: WatermelonDB
  // notes each one and updates it (see the report in the README of this directory).
  expectWatermelonErrors(/Server wants client to create record (categories|activity_types|units)#/)

  // The data itself is still on the server, for the coordinator.
  assert.ok(await onServer(first.id))
  await phone.sync()
  assert.equal(phone.lastPull.experimentalStrategy, undefined, 'the next sync is incremental')
})

test('8. a cursor the server cannot serve gets a replacement snapshot', async () => {
  const phone = await Phone.open(server, 'anna', 's8-phone')
  const tablet = await Phone.open(server, 'anna', 's8-tablet')
  await phone.sync()
  const kept = await phone.create('observations', observationFields({ note: 'finns kvar' }))
  const gone = await phone.create('observations', observationFields({ note: 'raderas på plattan' }))
  await phone.sync()
  await tablet.sync()
  await tablet.markAsDeleted(await tablet.find('observations', gone.id))
  await tablet.sync()
  assert.equal(await onServer(gone.id), null)
  const offline = await phone.create('observations', observationFields({ note: 'gjord offline' }))

  // The phone's cursor is ahead of the server (e.g. the server was restored from a backup).
  const serverTimestamp = await phone.lastPulledAt()
  const bogus = serverTimestamp + 1_000_000
  await phone.database.adapter.setLocal('__watermelon_last_pulled_at', String(bogus))

  await phone.sync()
  assert.equal(phone.trace.filter((t) => t.kind === 'pull').at(-1).lastPulledAt, bogus)
  assert.equal(phone.lastPull.experimentalStrategy, 'replacement')
  assert.deepEqual(phone.lastPull.changes.observations.deleted, [], 'a snapshot carries no tombstones')
  assert.equal(await phone.find('observations', gone.id), null, 'a record missing from the snapshot is removed')
  assert.equal((await phone.find('observations', kept.id)).syncStatus, 'synced')
  assert.equal(pushResult(phone, offline.id).status, 'applied', 'the unsynced record survived and was pushed')
  assert.equal((await phone.find('observations', offline.id)).syncStatus, 'synced')
  assert.equal(await phone.count('categories'), 13)
  const newCursor = await phone.lastPulledAt()
  assert.ok(newCursor < bogus && newCursor >= serverTimestamp, `cursor ${newCursor}`)
  // WatermelonDB notes the cursor going backwards, and every record it has that the snapshot
  // sends as `created` (the reference data, and the user's records made on other devices).
  const noted = expectWatermelonErrors(
    /previous pulled-at time was greater/,
    /Server wants client to create record (categories|activity_types|units|observations|activity_logs)#/,
  )
  assert.ok(noted.some((e) => /previous pulled-at time was greater/.test(e)))

  // The next sync is incremental again, and the phone holds what the server holds for anna.
  await phone.sync()
  assert.equal(phone.lastPull.experimentalStrategy, undefined)
  const mine = await mineOnServer('anna')
  assert.deepEqual(ids(await phone.all('observations')), mine)
})

/** One area around the phones' usual position (59.244, 18.228). */
const AREAS = {
  type: 'FeatureCollection',
  features: [{
    type: 'Feature',
    properties: { code: 'TC', name: 'Tyresö centrum' },
    geometry: { type: 'Polygon', coordinates: [[[18.22, 59.24], [18.24, 59.24], [18.24, 59.25], [18.22, 59.25], [18.22, 59.24]]] },
  }],
}

test('9. feedback from the coordinators reaches every phone of the organisation, and so do its changes and its withdrawal', async () => {
  await admin.post('/api/v1/areas', AREAS)
  const anna = await Phone.open(server, 'anna', 's9-phone')
  const carla = await Phone.open(server, 'carla', 's9-phone-carla')
  const bo = await Phone.open(server, 'bo', 's9-phone-bo') // a partner since 7b
  for (const phone of [anna, carla, bo]) await phone.sync()
  const sent = await coordinator.post('/api/v1/feedback', { body: 'Lampan vid torget är lagad.', areas: ['TC'] })
  await bo.sync()
  assert.deepEqual(bo.trace.at(-1).page.changes.feedback, { created: [], updated: [], deleted: [] }, 'not to partners')
  assert.equal(await bo.count('feedback'), 0)
  for (const phone of [anna, carla]) {
    await phone.sync()
    assert.deepEqual(ids(phone.lastPull.changes.feedback.created), [sent.id], 'new to the phone: created')
    const local = await phone.find('feedback', sent.id)
    assert.equal(local.body, 'Lampan vid torget är lagad.')
    assert.deepEqual(JSON.parse(local.area_codes), ['TC'])
    assert.equal(local.syncStatus, 'synced')
  }

  await coordinator.patch(`/api/v1/feedback/${sent.id}`, { body: 'Lampan vid torget är lagad sedan tisdag.' })
  await anna.sync()
  assert.deepEqual(ids(anna.lastPull.changes.feedback.updated), [sent.id])
  assert.equal((await anna.find('feedback', sent.id)).body, 'Lampan vid torget är lagad sedan tisdag.')
  assert.equal(await anna.count('feedback'), 1)

  await coordinator.request('DELETE', `/api/v1/feedback/${sent.id}`)
  await anna.sync()
  assert.deepEqual(anna.lastPull.changes.feedback.deleted, [sent.id])
  assert.equal(await anna.find('feedback', sent.id), null, 'withdrawn: gone from the phone')
  assert.equal(await anna.hasUnsyncedChanges(), false)
})

test('10. a phone whose app moves from schema version 1 to 2 gets the feedback written before, by a replacement, and keeps its unsynced records', async () => {
  const phone = await Phone.open(server, 'anna', 's10-phone', { schemaVersion: 1 })
  const lastPage = () => phone.trace.filter((t) => t.kind === 'pull').at(-1).page
  await phone.sync()
  assert.equal('feedback' in lastPage().changes, false, 'version 1 has no such table')
  const sent = await coordinator.post('/api/v1/feedback', { body: 'Vi är ute på fredagskvällar nu.', areas: ['TC'] })
  await phone.sync()
  assert.equal('feedback' in lastPage().changes, false)
  const waiting = await phone.create('observations', observationFields({ note: 'gjord före uppdateringen' }))

  // The app is updated: the cursor is past the feedback, so the server sends a replacement.
  phone.schemaVersion = null
  await phone.sync()
  assert.equal(lastPage().experimentalStrategy, 'replacement')
  assert.equal((await phone.find('feedback', sent.id)).body, 'Vi är ute på fredagskvällar nu.')
  assert.equal(pushResult(phone, waiting.id).status, 'applied', 'the unsynced record survived and was pushed')
  assert.equal((await phone.find('observations', waiting.id)).syncStatus, 'synced')
  expectWatermelonErrors(/Server wants client to create record (categories|activity_types|units|areas|observations|activity_logs)#/)

  await phone.sync()
  assert.equal(phone.lastPull.experimentalStrategy, undefined, 'once, not at every sync')
  assert.deepEqual(ids(await phone.all('feedback')), [sent.id])
  await coordinator.request('DELETE', `/api/v1/feedback/${sent.id}`)
})

test('11. a photo attachment syncs with its observation: it waits while the observation is refused, reaches the reporter’s other phone and coordinators, never a partner, and its delete follows', async () => {
  const crypto = require('node:crypto')
  const phone = await Phone.open(server, 'anna', 's11-phone')
  const tablet = await Phone.open(server, 'anna', 's11-tablet')
  const carla = await Phone.open(server, 'carla', 's11-carla')
  const bo = await Phone.open(server, 'bo', 's11-bo') // a partner since 7b
  for (const p of [phone, tablet, carla, bo]) await p.sync()
  const bytes = Buffer.from('a photo the phone took, as JPEG bytes')
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex')

  // The observation is refused (an unknown category): its attachment waits, unsynced.
  const record = await phone.create('observations', observationFields({ category: 'no-such-category' }))
  const photo = await phone.create('attachments', {
    observation_id: record.id, sha256, content_type: 'image/jpeg', byte_size: bytes.length, width: 1200, height: 900, created_at: Date.now(),
  })
  await phone.sync()
  assert.equal(pushResult(phone, record.id).status, 'quarantined')
  assert.equal(pushResult(phone, photo.id).status, 'conflict')
  assert.deepEqual(phone.lastPush.body.experimentalRejectedIds, { attachments: [photo.id] })
  assert.equal((await phone.find('attachments', photo.id)).syncStatus, 'created', 'kept to be sent again')

  // Fixed, the observation is stored and the attachment goes with the next push.
  await phone.update(await phone.find('observations', record.id), { category: 'vandalism' })
  await phone.sync()
  assert.equal(pushResult(phone, record.id).status, 'applied')
  assert.equal(pushResult(phone, photo.id).status, 'applied')
  assert.equal((await phone.find('attachments', photo.id)).syncStatus, 'synced')
  assert.equal(await phone.hasUnsyncedChanges(), false)
  const upload = await phone.get(`/api/v1/uploads/${sha256}`)
  assert.deepEqual([upload.size, upload.received, upload.complete], [bytes.length, 0, false], 'the bytes travel on their own endpoint')

  for (const other of [tablet, carla]) {
    await other.sync()
    assert.deepEqual(ids(other.lastPull.changes.attachments.created), [photo.id])
    const copy = await other.find('attachments', photo.id)
    assert.deepEqual([copy.observation_id, copy.sha256, copy.byte_size, copy.user_id], [record.id, sha256, bytes.length, server.userIds.anna])
  }
  await bo.sync()
  assert.deepEqual(bo.lastPull.changes.attachments, { created: [], updated: [], deleted: [] }, 'never to partners')

  // Removed on the phone: gone from the others at their next sync.
  await phone.markAsDeleted(await phone.find('attachments', photo.id))
  await phone.sync()
  assert.equal(pushResult(phone, photo.id).status, 'applied')
  await tablet.sync()
  assert.deepEqual(tablet.lastPull.changes.attachments.deleted, [photo.id])
  assert.equal(await tablet.find('attachments', photo.id), null)
})
