#!/usr/bin/env node
// `npm run preview`: serves the board with mock data on http://localhost:<port> (PORT, default 4173).
// Query parameters: ?lang=en (default ja), ?day=YYYY-MM-DD (pins today).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPreview } from './build.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Builds once and serves; resolves to {url, close()}. port 0 picks a free port. */
export async function startPreview({ port = 4173, host = '127.0.0.1' } = {}) {
    const code = await buildPreview();
    const html = fs.readFileSync(path.join(HERE, 'index.html'));
    const server = http.createServer((req, res) => {
        const url = new URL(req.url, 'http://localhost');
        if (url.pathname === '/' || url.pathname === '/index.html') {
            res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
            res.end(html);
        } else if (url.pathname === '/app.js') {
            res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
            res.end(code);
        } else {
            res.writeHead(404, { 'content-type': 'text/plain' });
            res.end('not found');
        }
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, resolve);
    });
    const address = server.address();
    return {
        url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${address.port}/`,
        close: () => new Promise((resolve) => server.close(resolve))
    };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    const port = Number(process.env.PORT || 4173);
    const { url } = await startPreview({ port, host: process.env.HOST || '127.0.0.1' });
    console.log(`Test-drive board preview: ${url}  (English: ${url}?lang=en)`);
}
