// The phone's WatermelonDB schema (version 3: version 1, the `feedback` table of version 2 and the
// `attachments` table of version 3): the columns
// the server sends down (see the `to_raw` methods in src/db/models.rs and the pull in
// src/db/queries/sync_pull.rs), plus `sync_error` and `sync_errors` on the tables a phone pushes.

'use strict'

const { appSchema, tableSchema, Model } = require('@nozbe/watermelondb')

const reference = [
  { name: 'slug', type: 'string', isIndexed: true },
  { name: 'label_sv', type: 'string' },
  { name: 'label_en', type: 'string' },
  { name: 'sort_order', type: 'number' },
  { name: 'active', type: 'boolean' },
]

const schema = appSchema({
  version: 3,
  tables: [
    tableSchema({
      name: 'observations',
      columns: [
        { name: 'category', type: 'string' },
        { name: 'severity', type: 'number' },
        { name: 'perceived_safety', type: 'number' },
        { name: 'people_count', type: 'number', isOptional: true },
        { name: 'age_band', type: 'string', isOptional: true },
        { name: 'note', type: 'string' },
        { name: 'lat', type: 'number' },
        { name: 'lon', type: 'number' },
        { name: 'accuracy_m', type: 'number', isOptional: true },
        { name: 'observed_at', type: 'number' },
        { name: 'observed_at_device', type: 'number' },
        { name: 'clock_corrected', type: 'boolean' },
        { name: 'needs_follow_up', type: 'boolean' },
        { name: 'status', type: 'string' },
        { name: 'review_comment', type: 'string', isOptional: true },
        { name: 'area_code', type: 'string', isOptional: true },
        { name: 'redacted', type: 'boolean' },
        { name: 'user_id', type: 'string', isIndexed: true },
        { name: 'created_at', type: 'number' },
        { name: 'updated_at', type: 'number' },
        { name: 'sync_error', type: 'string', isOptional: true },
        { name: 'sync_errors', type: 'string', isOptional: true },
      ],
    }),
    tableSchema({
      name: 'activity_logs',
      columns: [
        { name: 'activity_type', type: 'string' },
        { name: 'unit', type: 'string' },
        { name: 'started_at', type: 'number' },
        { name: 'ended_at', type: 'number', isOptional: true },
        { name: 'lat', type: 'number', isOptional: true },
        { name: 'lon', type: 'number', isOptional: true },
        { name: 'area_code', type: 'string', isOptional: true },
        { name: 'girls', type: 'number' },
        { name: 'boys', type: 'number' },
        { name: 'gender_other', type: 'number' },
        { name: 'gender_unknown', type: 'number' },
        { name: 'age_under_13', type: 'number' },
        { name: 'age_13_15', type: 'number' },
        { name: 'age_16_17', type: 'number' },
        { name: 'age_18_24', type: 'number' },
        { name: 'age_25_plus', type: 'number' },
        { name: 'age_unknown', type: 'number' },
        { name: 'note', type: 'string' },
        { name: 'redacted', type: 'boolean' },
        { name: 'user_id', type: 'string', isIndexed: true },
        { name: 'created_at', type: 'number' },
        { name: 'updated_at', type: 'number' },
        { name: 'sync_error', type: 'string', isOptional: true },
        { name: 'sync_errors', type: 'string', isOptional: true },
      ],
    }),
    tableSchema({ name: 'categories', columns: reference }),
    tableSchema({ name: 'activity_types', columns: reference }),
    tableSchema({
      name: 'units',
      columns: [
        { name: 'slug', type: 'string', isIndexed: true },
        { name: 'name', type: 'string' },
      ],
    }),
    tableSchema({
      name: 'areas',
      columns: [
        { name: 'code', type: 'string', isIndexed: true },
        { name: 'name', type: 'string' },
        { name: 'parent_code', type: 'string', isOptional: true },
        { name: 'bbox', type: 'string' },
        { name: 'outline', type: 'string' },
      ],
    }),
    tableSchema({
      name: 'feedback',
      columns: [
        { name: 'body', type: 'string' },
        { name: 'area_codes', type: 'string' },
        { name: 'measure_id', type: 'string', isOptional: true },
        { name: 'measure_title', type: 'string', isOptional: true },
        { name: 'created_at', type: 'number' },
        { name: 'updated_at', type: 'number' },
      ],
    }),
    tableSchema({
      name: 'attachments',
      columns: [
        { name: 'observation_id', type: 'string', isIndexed: true },
        { name: 'sha256', type: 'string' },
        { name: 'content_type', type: 'string' },
        { name: 'byte_size', type: 'number' },
        { name: 'width', type: 'number', isOptional: true },
        { name: 'height', type: 'number', isOptional: true },
        { name: 'created_at', type: 'number' },
        { name: 'user_id', type: 'string', isOptional: true },
      ],
    }),
  ],
})

// Models with plain accessors over the raw columns (what `@field` does, without decorators).
// No `createdAt`/`updatedAt` accessors: the server owns those columns.
function withFields(ModelClass, table) {
  ModelClass.table = table
  for (const column of schema.tables[table].columnArray) {
    Object.defineProperty(ModelClass.prototype, column.name, {
      get() {
        return this._getRaw(column.name)
      },
      set(value) {
        this._setRaw(column.name, value)
      },
    })
  }
  return ModelClass
}

class Observation extends Model {}
class ActivityLog extends Model {}
class Category extends Model {}
class ActivityType extends Model {}
class Unit extends Model {}
class Area extends Model {}
class Feedback extends Model {}
class Attachment extends Model {}

const modelClasses = [
  withFields(Observation, 'observations'),
  withFields(ActivityLog, 'activity_logs'),
  withFields(Category, 'categories'),
  withFields(ActivityType, 'activity_types'),
  withFields(Unit, 'units'),
  withFields(Area, 'areas'),
  withFields(Feedback, 'feedback'),
  withFields(Attachment, 'attachments'),
]

module.exports = { schema, modelClasses }
