// Retention (gallring), for administrators: how many months free text, exact positions, earlier
// versions and audit entries are kept; what a run would remove (a dry run), and a run now.

import * as api from './api.js'
import { h, uid, failure, loading } from './dom.js'
import { t, formatTime, formatNumber } from './i18n.js'

const PERIODS = ['free_text_months', 'position_months', 'history_months', 'audit_months']
const COUNTS = [
  'observation_free_text', 'activity_free_text', 'observation_positions', 'activity_positions',
  'history_versions_scrubbed', 'history_versions_removed', 'quarantined_versions_scrubbed', 'audit_entries_removed',
]

function monthsField(name, value) {
  const id = uid(name)
  const hintId = uid(`${name}-hint`)
  const input = h('input', { type: 'number', id, name, min: '1', max: '600', step: '1', inputmode: 'numeric', 'aria-describedby': hintId })
  input.value = value ?? ''
  const error = h('p', { class: 'field-error', id: uid(`${name}-error`), hidden: true })
  return {
    name,
    input,
    error,
    node: h('div', { class: 'field' },
      h('label', { for: id, text: t(`retention_${name}`) }),
      input,
      h('p', { class: 'hint', id: hintId, text: t(`retention_${name}_hint`) }),
      error),
  }
}

/** The counts of a run, as a list people read. */
function purgeList(purge) {
  return h('ul', { class: 'retention-counts' },
    COUNTS.map((key) => h('li', { 'data-count': key }, h('strong', { text: formatNumber(purge[key] ?? 0) }), ` ${t(`retention_count_${key}`)}`)))
}

/** Asks before a run, in a modal dialog that keeps the keyboard inside it. */
function confirmRun() {
  return new Promise((resolve) => {
    const titleId = uid('run')
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId, text: t('retention_confirm_title') }),
      h('p', { text: t('retention_confirm_text') }),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', text: t('cancel'), onclick: () => dialog.close('cancel') }),
        h('button', { type: 'button', class: 'primary danger', text: t('retention_run'), onclick: () => dialog.close('run') })))
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(dialog.returnValue === 'run')
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}

export async function renderRetention(main, ctx) {
  const content = h('div', {}, loading())
  const result = h('div', { class: 'retention-result', 'aria-live': 'polite' })
  const load = async () => {
    content.replaceChildren(loading())
    try {
      const settings = await api.get('/api/v1/retention')
      const fields = PERIODS.map((name) => monthsField(name, settings[name]))
      const lastRun = h('p', { class: 'hint', 'data-last-run': '' },
        settings.last_run_at ? t('retention_last_run', { at: formatTime(settings.last_run_at) }) : t('retention_never_run'))
      const save = async (event) => {
        event.preventDefault()
        const body = {}
        for (const field of fields) {
          field.error.hidden = true
          field.input.removeAttribute('aria-invalid')
          const text = field.input.value.trim()
          body[field.name] = text === '' ? null : Number(text)
        }
        try {
          await api.patch('/api/v1/retention', body)
          ctx.toast(t('retention_saved'))
          await load()
        } catch (error) {
          if (error instanceof api.SessionError) return ctx.sessionEnded(error)
          const faults = error.problem?.errors ?? []
          for (const fault of faults) {
            const field = fields.find((f) => f.name === fault.field)
            if (!field) continue
            field.error.textContent = t('retention_months_invalid')
            field.error.hidden = false
            field.input.setAttribute('aria-invalid', 'true')
            field.input.setAttribute('aria-describedby', `${field.input.getAttribute('aria-describedby').split(' ')[0]} ${field.error.id}`)
          }
          if (faults.length) fields.find((f) => !f.error.hidden)?.input.focus()
          else ctx.toast(error.message)
        }
      }
      const run = async (dryRun) => {
        if (!dryRun && !(await confirmRun())) return
        result.replaceChildren(loading())
        try {
          const answer = await api.post('/api/v1/retention/run', { dry_run: dryRun })
          result.replaceChildren(
            h('h2', { text: dryRun ? t('retention_would_remove') : t('retention_removed') }),
            purgeList(answer.purge))
          if (!dryRun) {
            ctx.toast(t('retention_done'))
            lastRun.textContent = t('retention_last_run', { at: formatTime(answer.ran_at) })
          }
        } catch (error) {
          if (error instanceof api.SessionError) return ctx.sessionEnded(error)
          result.replaceChildren(h('p', { class: 'problem', text: error.message }))
        }
      }
      content.replaceChildren(
        h('form', { class: 'card retention-form', novalidate: true, onsubmit: save },
          fields.map((field) => field.node),
          h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: t('save') }))),
        h('section', { class: 'card' },
          lastRun,
          h('div', { class: 'row' },
            h('button', { type: 'button', class: 'secondary', text: t('retention_preview'), onclick: () => ctx.guard(run(true)) }),
            h('button', { type: 'button', class: 'secondary danger-outline', text: t('retention_run'), onclick: () => ctx.guard(run(false)) })),
          result))
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      content.replaceChildren(failure(error, () => ctx.guard(load())))
    }
  }
  main.replaceChildren(h('section', { class: 'view' },
    h('h1', { text: t('retention_title') }),
    h('p', { class: 'hint', text: t('retention_intro') }),
    content))
  await load()
}
