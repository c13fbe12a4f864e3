// A real lagesbild server for the Node suites (tests/browser, tests/watermelon): the built binary
// (never built here), a fresh data directory (SQLite) or a fresh PostgreSQL database, an
// organisation (with a bounding box when asked), a unit and users created with the binary's own
// command line, then `serve` on a free port. Node's built-in modules only, so each suite can
// require it from its own package.

'use strict'

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')

const ORG = 'tyreso'
const UNIT = 'falt'
const PASSWORD = 'ett långt lösenord för testerna'
const JWT_SECRET = 'node-suites-signing-key-with-more-than-32-bytes!'

function binaryPath() {
  const bin =
    process.env.LAGESBILD_BIN ||
    (process.env.CARGO_TARGET_DIR && path.join(process.env.CARGO_TARGET_DIR, 'debug', 'lagesbild')) ||
    path.resolve(__dirname, '..', '..', 'target', 'debug', 'lagesbild')
  if (!fs.existsSync(bin)) {
    throw new Error(
      `the lagesbild binary is not at ${bin}: run \`cargo build\` first and pass its path in LAGESBILD_BIN`,
    )
  }
  return bin
}

function baseEnv(dataDir, databaseUrl) {
  const env = {
    PATH: process.env.PATH || '/usr/bin:/bin',
    LAGESBILD_DATA_DIR: dataDir,
    LAGESBILD_JWT_SECRET: JWT_SECRET,
    // Cheap password hashing and generous login limits: the suite logs in many phones.
    LAGESBILD_ARGON2_MEMORY_KIB: '1024',
    LAGESBILD_ARGON2_ITERATIONS: '1',
    LAGESBILD_ARGON2_PARALLELISM: '1',
    LAGESBILD_LOGIN_ATTEMPTS_PER_ACCOUNT: '1000',
    LAGESBILD_LOGIN_ATTEMPTS_PER_ADDRESS: '1000',
    LAGESBILD_REVOCATION_POLL_MS: '100',
    LAGESBILD_WORKERS: '2',
    LAGESBILD_SHUTDOWN_TIMEOUT_SECS: '2',
    RUST_LOG: process.env.RUST_LOG || 'info',
  }
  if (databaseUrl) env.DATABASE_URL = databaseUrl
  return env
}

function psql(adminUrl, sql) {
  execFileSync('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Creates a fresh PostgreSQL database on the server of `adminUrl`; returns its URL and a dropper. */
function freshPostgres(adminUrl, prefix) {
  const name = `lagesbild_${prefix}_${crypto.randomBytes(6).toString('hex')}`
  psql(adminUrl, `CREATE DATABASE "${name}"`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => {
      try {
        psql(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } catch (error) {
        console.error(`could not drop test database ${name}: ${error.stderr || error.message}`)
      }
    },
  }
}

/** Runs one command of the binary; returns its standard output, or throws with its standard error. */
function cli(bin, env, args, extraEnv = {}) {
  try {
    return execFileSync(bin, args, {
      env: { ...env, RUST_LOG: 'warn', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    })
  } catch (error) {
    throw new Error(`lagesbild ${args.join(' ')} failed (${error.status}): ${error.stderr}`)
  }
}

/**
 * Starts a server. Returns { url, org, password, userIds, database, stop(), log() }.
 * - `prefix`: names the suite's data directories and databases (`br`, `wm`).
 * - `users`: username → role; every user is in the unit `falt`.
 * - `bbox`: the organisation's bounding box (`min_lat,min_lon,max_lat,max_lon`), if any.
 * - `env`: settings for `serve` (such as `LAGESBILD_TILE_URL`).
 */
async function startServer({ prefix, users, bbox = null, env: extraEnv = {} }) {
  const bin = binaryPath()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `lagesbild-${prefix}-`))
  const adminUrl = (process.env.LAGESBILD_TEST_POSTGRES_URL || '').trim()
  const postgres = adminUrl ? freshPostgres(adminUrl, prefix) : null
  const env = baseEnv(dataDir, postgres && postgres.url)
  const cleanup = () => {
    if (postgres) postgres.drop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }

  const userIds = {}
  try {
    cli(bin, env, ['org', 'add', '--slug', ORG, '--name', 'Tyresö kommun'])
    if (bbox) cli(bin, env, ['org', 'bbox', '--org', ORG, '--bbox', bbox])
    cli(bin, env, ['unit', 'add', '--org', ORG, '--slug', UNIT, '--name', 'Fältassistenter'])
    for (const [username, role] of Object.entries(users)) {
      const out = cli(
        bin,
        env,
        ['user', 'add', '--org', ORG, '--username', username, '--role', role, '--unit', UNIT, '--password-env', 'TEST_PASSWORD'],
        { TEST_PASSWORD: PASSWORD },
      )
      const id = /with id (\S+)/.exec(out)
      if (!id) throw new Error(`no user id in: ${out}`)
      userIds[username] = id[1]
    }
  } catch (error) {
    cleanup()
    throw error
  }

  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0'], {
    env: { ...env, ...extraEnv, LAGESBILD_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const lines = []
  let exited = null
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal }
      resolve(exited)
    })
  })
  // Never leave a server behind, whatever ends the test process.
  process.on('exit', () => {
    if (!exited) child.kill('SIGKILL')
  })
  const address = await new Promise((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(() => reject(new Error(`the server did not log its address:\n${lines.join('\n')}`)), 15000)
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk) => {
      buffer += chunk
      let newline
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        lines.push(line)
        if (process.env.LAGESBILD_TEST_LOG) process.stderr.write(`[server] ${line}\n`)
        const match = /"address":"([^"]+)"/.exec(line)
        if (match) {
          clearTimeout(timer)
          resolve(match[1])
        }
      }
    })
    exitPromise.then((status) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${JSON.stringify(status)}) before listening:\n${lines.join('\n')}`))
    })
  }).catch((error) => {
    if (!exited) child.kill('SIGKILL')
    cleanup()
    throw error
  })

  return {
    url: `http://${address}`,
    org: ORG,
    password: PASSWORD,
    userIds,
    database: postgres ? 'postgres' : 'sqlite',
    /** The server's log lines so far (JSON). */
    log: () => lines.slice(),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM')
        const timeout = new Promise((resolve) => setTimeout(resolve, 5000, 'timeout'))
        if ((await Promise.race([exitPromise, timeout])) === 'timeout') {
          child.kill('SIGKILL')
          await exitPromise
        }
      }
      cleanup()
    },
  }
}

module.exports = { startServer, ORG, UNIT }
