// The service worker: keeps the app shell (the app's files and the shared ones of /common/) so
// the app opens with no network. The server puts a digest of that shell into VERSION, so a
// changed shell installs a new worker and a fresh cache.

const VERSION = '__SHELL_VERSION__'
const CACHE = `lagesbild-app-${VERSION}`
const SHELL = [
  './', 'index.html', 'app.css', 'main.js', 'api.js', 'db.js', 'sync.js', 'photos.js', 'i18n.js', 'views.js',
  'position.js', 'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png',
  '../common/client.js', '../common/base.css',
]

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: 'no-cache' }))))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith('lagesbild-app-') && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  const url = new URL(request.url)
  // Only the shell (the app's files and the shared client) is ours to answer; the API always
  // goes to the network.
  const shell = url.pathname.startsWith('/app/') || url.pathname.startsWith('/common/')
  if (request.method !== 'GET' || url.origin !== self.location.origin || !shell) return
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const key = request.mode === 'navigate' ? './' : request
      const cached = await cache.match(key, { ignoreSearch: true })
      if (cached) return cached
      const response = await fetch(request)
      if (response.ok) cache.put(request, response.clone())
      return response
    }),
  )
})
