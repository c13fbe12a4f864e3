// The quarantine (records the server could not accept, with the reasons) and the devices (last
// sync, records waiting, clock skew), where a lost phone is revoked.

import * as api from './api.js'
import { h, uid, failure, loading, tableWrap, td } from './dom.js'
import { t, has, label, formatTime, formatDuration, formatNumber } from './i18n.js'

let showResolved = false

function reason(error) {
  const key = `error_${error?.code}`
  return has(key) ? t(key) : error?.message || error?.code || String(error)
}

function recordSummary(entry, ctx) {
  const payload = entry.payload ?? {}
  const byslug = new Map(ctx.categories.map((c) => [c.slug, c]))
  const what = entry.table === 'observations' ? label(byslug.get(payload.category)) || payload.category : payload.activity_type
  const when = payload.observed_at ?? payload.started_at
  const where = typeof payload.lat === 'number' && typeof payload.lon === 'number' ? `${payload.lat.toFixed(4)}, ${payload.lon.toFixed(4)}` : null
  return h('div', {},
    h('strong', { text: `${has(`table_${entry.table}`) ? t(`table_${entry.table}`) : entry.table}${what ? `: ${what}` : ''}` }),
    h('div', { class: 'hint', text: [when ? formatTime(when) : null, where].filter(Boolean).join(' · ') }))
}

export async function renderQuarantine(main, ctx) {
  const content = h('div', {}, loading())
  const toggleId = uid('resolved')
  const toggle = h('input', { type: 'checkbox', id: toggleId })
  toggle.checked = showResolved
  const load = async () => {
    content.replaceChildren(loading())
    try {
      const entries = (await api.get('/api/v1/sync/quarantine')).filter((e) => showResolved || !e.resolved)
      if (!entries.length) {
        content.replaceChildren(h('p', { class: 'card hint', text: t('no_quarantine') }))
        return
      }
      const table = h('table', { class: 'data quarantine-table' },
        h('thead', {}, h('tr', {}, ['col_received', 'col_record', 'col_reasons', 'col_user', 'col_device', 'col_status'].map((key) => h('th', { scope: 'col', text: t(key) })))),
        h('tbody', {}, entries.map((entry) => h('tr', { class: entry.resolved ? 'resolved' : null },
          td(t('col_received'), formatTime(entry.received_at)),
          td(t('col_record'), recordSummary(entry, ctx)),
          td(t('col_reasons'), h('ul', { class: 'reasons' }, (Array.isArray(entry.errors) ? entry.errors : [entry.errors]).filter(Boolean).map((e) =>
            h('li', {}, h('span', { text: reason(e) }), e?.field ? h('span', { class: 'hint', text: ` (${e.field})` }) : null)))),
          td(t('col_user'), entry.username ?? entry.user_id ?? t('none')),
          td(t('col_device'), h('code', { text: entry.device_id ?? t('none') })),
          td(t('col_status'), h('span', { class: entry.resolved ? 'state state-visited' : 'state state-unvisited', text: entry.resolved ? t('resolved') : t('open') }))))))
      content.replaceChildren(tableWrap(t('quarantine_title'), table, { stack: true }))
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      content.replaceChildren(failure(error, () => ctx.guard(load())))
    }
  }
  toggle.addEventListener('change', () => {
    showResolved = toggle.checked
    ctx.guard(load())
  })
  main.replaceChildren(h('section', { class: 'view' },
    h('h1', { text: t('quarantine_title') }),
    h('p', { class: 'hint', text: t('quarantine_intro') }),
    h('div', { class: 'filters' }, h('div', { class: 'field check' }, toggle, h('label', { for: toggleId, text: t('show_resolved') }))),
    content))
  await load()
}

function skew(ms) {
  if (ms === null || ms === undefined) return h('span', { class: 'muted', text: t('none') })
  // Server time minus device time: positive means the device is behind.
  if (Math.abs(ms) < 5_000) return h('span', { text: t('skew_ok', { s: 5 }) })
  const text = ms > 0 ? t('skew_behind', { d: formatDuration(ms) }) : t('skew_ahead', { d: formatDuration(ms) })
  return h('span', { class: Math.abs(ms) > 120_000 ? 'warn' : null, text })
}

function lastSync(device) {
  const times = [device.last_push_at, device.last_pull_at].filter(Boolean).sort()
  return times.length ? formatTime(times[times.length - 1]) : t('never')
}

/** Asks before revoking, in a modal dialog that keeps the keyboard inside it. */
function confirmRevoke(device) {
  return new Promise((resolve) => {
    const name = deviceTitle(device)
    const titleId = uid('revoke')
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId, text: t('revoke_title', { name }) }),
      h('p', { text: t('revoke_text') }),
      device.pending_count ? h('p', { class: 'warn', text: t('revoke_pending', { n: device.pending_count }) }) : null,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', text: t('cancel'), onclick: () => dialog.close('cancel') }),
        h('button', { type: 'button', class: 'primary danger', text: t('revoke'), onclick: () => dialog.close('revoke') })))
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(dialog.returnValue === 'revoke')
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}

/** What people call a device: its user's label, else its browser and system, else its app name. */
function deviceTitle(device) {
  return device.label || device.platform || device.name || device.id
}

export async function renderDevices(main, ctx) {
  const content = h('div', {}, loading())
  const load = async () => {
    content.replaceChildren(loading())
    try {
      const devices = await api.get('/api/v1/devices')
      if (!devices.length) {
        content.replaceChildren(h('p', { class: 'card hint', text: t('no_devices') }))
        return
      }
      const mine = ctx.session()?.device_id
      const revokeButton = (device) => {
        if (device.revoked || device.id === mine) return h('span', { class: 'muted', text: t('none') })
        const name = deviceTitle(device)
        const button = h('button', {
          type: 'button', class: 'secondary small danger-outline', text: t('revoke'), 'aria-label': t('revoke_named', { name: `${name} (${device.username ?? device.id})` }),
          onclick: async () => {
            if (!(await confirmRevoke(device))) return button.focus()
            try {
              await api.post(`/api/v1/devices/${encodeURIComponent(device.id)}/revoke`)
              ctx.toast(t('revoked_done', { name }))
              await load()
              main.querySelector('h1')?.focus()
            } catch (error) {
              if (error instanceof api.SessionError) return ctx.sessionEnded(error)
              ctx.toast(error.message)
            }
          },
        })
        return button
      }
      const status = (device) => device.revoked
        ? [h('span', { class: 'state state-unvisited', text: t('revoked') }), h('span', { class: 'hint block', text: formatTime(device.revoked_at) })]
        : device.signed_in ? h('span', { class: 'state state-visited', text: t('signed_in') }) : h('span', { class: 'state', text: t('signed_out') })
      const titleCell = (device) => h('th', { scope: 'row', 'data-label': t('col_name') },
        h('span', { class: 'device-title', text: deviceTitle(device) }),
        device.id === mine ? h('span', { class: 'hint', text: ` (${t('this_browser')})` }) : null,
        h('span', { class: 'hint block' }, device.label && device.platform ? `${device.platform} · ` : '', h('code', { text: device.id })))
      const byUser = (a, b) => (a.username ?? '').localeCompare(b.username ?? '', 'sv') || String(b.last_seen_at).localeCompare(String(a.last_seen_at))
      const phones = devices.filter((device) => device.kind !== 'dashboard').sort(byUser)
      const sessions = devices.filter((device) => device.kind === 'dashboard').sort(byUser)

      const groups = new Map()
      for (const device of phones) {
        const user = device.username ?? t('none')
        if (!groups.has(user)) groups.set(user, [])
        groups.get(user).push(device)
      }
      const phoneColumns = ['col_name', 'col_last_seen', 'col_last_sync', 'col_pending', 'col_skew', 'col_status', 'col_action']
      const phoneTable = h('table', { class: 'data devices-table phones' },
        h('caption', { class: 'visually-hidden', text: t('phones_title') }),
        h('thead', {}, h('tr', {}, phoneColumns.map((key) => h('th', { scope: 'col', class: key === 'col_pending' ? 'num' : null, text: t(key) })))),
        [...groups.entries()].map(([user, owned]) => h('tbody', { 'data-user': user },
          h('tr', { class: 'group' }, h('th', { scope: 'rowgroup', colspan: String(phoneColumns.length), text: t('phones_of', { user, n: owned.length }) })),
          owned.map((device) => h('tr', { class: device.revoked ? 'revoked' : null, 'data-device': device.id },
            titleCell(device),
            td(t('col_last_seen'), formatTime(device.last_seen_at)),
            td(t('col_last_sync'), lastSync(device)),
            td(t('col_pending'), device.pending_count === null || device.pending_count === undefined ? t('none') : formatNumber(device.pending_count), { class: device.pending_count ? 'num warn' : 'num' }),
            td(t('col_skew'), skew(device.clock_skew_ms)),
            td(t('col_status'), status(device)),
            td(t('col_action'), revokeButton(device)))))))
      const sessionTable = h('table', { class: 'data devices-table sessions' },
        h('caption', { class: 'visually-hidden', text: t('sessions_title') }),
        h('thead', {}, h('tr', {}, ['col_name', 'col_user', 'col_last_seen', 'col_status', 'col_action'].map((key) => h('th', { scope: 'col', text: t(key) })))),
        h('tbody', {}, sessions.map((device) => h('tr', { class: device.revoked ? 'revoked' : null, 'data-device': device.id },
          titleCell(device),
          td(t('col_user'), device.username ?? t('none')),
          td(t('col_last_seen'), formatTime(device.last_seen_at)),
          td(t('col_status'), status(device)),
          td(t('col_action'), revokeButton(device))))))
      content.replaceChildren(
        h('h2', { text: t('phones_title') }),
        phones.length ? tableWrap(t('phones_title'), phoneTable, { stack: true }) : h('p', { class: 'card hint', text: t('no_phones') }),
        h('h2', { text: t('sessions_title') }),
        h('p', { class: 'hint', text: t('sessions_intro') }),
        sessions.length ? tableWrap(t('sessions_title'), sessionTable, { stack: true }) : h('p', { class: 'card hint', text: t('no_sessions') }))
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      content.replaceChildren(failure(error, () => ctx.guard(load())))
    }
  }
  main.replaceChildren(h('section', { class: 'view' },
    h('h1', { text: t('devices_title') }),
    h('p', { class: 'hint', text: t('devices_intro') }),
    content))
  await load()
}
