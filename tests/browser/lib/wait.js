// Polling for what a page or the server shows after a while.

'use strict'

/** Calls `check` every 200 ms until it returns something truthy, and returns that; fails after `timeout`. */
async function waitFor(check, what, timeout = 20_000) {
  const until = Date.now() + timeout
  let last
  while (Date.now() < until) {
    last = await check()
    if (last) return last
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`)
}

module.exports = { waitFor }
