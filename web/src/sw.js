// quire's service worker: keeps the app shell (index.html and the hashed assets) so the editor
// opens, and edits into IndexedDB, after a reload while offline. It never touches /v1/ or /ws/:
// API answers are never cached, and it holds no credentials.
const VERSION = '__VERSION__'
const ASSETS = __ASSETS__
const CACHE = 'quire-shell-' + VERSION

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(['/index.html', '/config.json', ...ASSETS])).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('quire-shell-') && key !== CACHE) await caches.delete(key)
    await self.clients.claim()
  })())
})

async function networkFirst (request, cacheKey) {
  const cache = await caches.open(CACHE)
  try {
    const response = await fetch(request)
    if (response.ok) await cache.put(cacheKey, response.clone())
    return response
  } catch (e) {
    const hit = await cache.match(cacheKey)
    if (hit) return hit
    throw e
  }
}

async function cacheFirst (request) {
  const cache = await caches.open(CACHE)
  const hit = await cache.match(request)
  if (hit) return hit
  const response = await fetch(request)
  if (response.ok) await cache.put(request, response.clone())
  return response
}

self.addEventListener('fetch', (event) => {
  const { request } = event
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  if (url.pathname.startsWith('/v1/') || url.pathname.startsWith('/ws/')) return
  if (request.mode === 'navigate') {
    if (url.pathname === '/' || url.pathname === '/index.html' || /^\/d\/[A-Za-z0-9._~-]{1,128}$/.test(url.pathname)) {
      event.respondWith(networkFirst(request, '/index.html'))
    }
    return
  }
  if (url.pathname.startsWith('/assets/')) event.respondWith(cacheFirst(request))
  else if (url.pathname === '/config.json') event.respondWith(networkFirst(request, '/config.json'))
})
