// Headless Chromium (Debian's /usr/bin/chromium through playwright-core) on `npm run preview`:
// at a desktop and a phone width, every mock booking is drawn in its car's row at its time,
// the page never scrolls sideways (only the timeline does), a free slot books, and a slot taken
// meanwhile shows the guard's error. Screenshots go to build/screenshots/ (git-ignored), or to
// $SCREENSHOT_DIR: `npm run screenshots` refreshes the README's docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startPreview } from '../preview/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHOTS = path.resolve(ROOT, process.env.SCREENSHOT_DIR || path.join('build', 'screenshots'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const DAY = '2026-12-03';
const TOKYO_OFFSET_MS = 9 * 3600 * 1000;
const OPEN_MS = Date.parse(`${DAY}T09:00:00.000Z`) - TOKYO_OFFSET_MS;
const CLOSE_MS = Date.parse(`${DAY}T19:00:00.000Z`) - TOKYO_OFFSET_MS;
const SLOT_MS = 30 * 60000;

const VIEWPORTS = {
    desktop: { width: 1366, height: 900 },
    phone: { width: 390, height: 844 }
};

let preview;
let context;
let profile;

before(async () => {
    preview = await startPreview({ port: 0 });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sfsync-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync'
        ]
    });
    fs.mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
    await context?.close();
    await preview?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

async function openBoard(viewport) {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.setViewportSize(viewport);
    await page.goto(`${preview.url}?day=${DAY}`);
    await page.locator('li[data-vehicle-id]').first().waitFor();
    await page.locator('[data-reservation-id]').first().waitFor();
    return { page, errors };
}

/** Where the timeline's header says an instant is, in page pixels. */
async function xOf(page, epoch) {
    const slotStart = OPEN_MS + Math.floor((epoch - OPEN_MS) / SLOT_MS) * SLOT_MS;
    const box = await page.locator(`.timeline__hour[data-start="${slotStart}"]`).boundingBox();
    return box.x + ((epoch - slotStart) / SLOT_MS) * box.width;
}

async function checkBlocks(page) {
    const reservations = await page.evaluate(() => window.__previewOrg.reservations);
    assert.ok(reservations.length >= 9, 'the mock org has its bookings');
    let drawn = 0;
    for (const r of reservations) {
        const block = page.locator(`[data-reservation-id="${r.id}"]`);
        if (r.status === 'Cancelled') {
            assert.equal(await block.count(), 0, `${r.name} is cancelled and hidden`);
            continue;
        }
        assert.equal(await block.count(), 1, `${r.name} is drawn once`);
        const row = await block.evaluate((el) => el.closest('li').dataset.vehicleId);
        assert.equal(row, r.vehicleId, `${r.name} is in the row of its car`);
        await block.scrollIntoViewIfNeeded();
        const start = Math.max(Date.parse(r.startTime), OPEN_MS);
        const end = Math.min(Date.parse(r.endTime), CLOSE_MS);
        const box = await block.boundingBox();
        const left = await xOf(page, start);
        const right =
            end === CLOSE_MS
                ? (await xOf(page, end - SLOT_MS)) + (await page.locator('.timeline__hour').first().boundingBox()).width
                : await xOf(page, end);
        assert.ok(Math.abs(box.x - left) <= 1.5, `${r.name} starts at its time (x ${box.x} vs ${left})`);
        assert.ok(
            Math.abs(box.x + box.width - right) <= 1.5,
            `${r.name} ends at its time (x ${box.x + box.width} vs ${right})`
        );
        const rowBox = await page.locator(`li[data-vehicle-id="${r.vehicleId}"]`).boundingBox();
        assert.ok(box.y >= rowBox.y && box.y + box.height <= rowBox.y + rowBox.height, `${r.name} sits inside its row`);
        const completed = await block.evaluate((el) => el.classList.contains('block_completed'));
        assert.equal(completed, r.status === 'Completed', `${r.name} is dimmed only when completed`);
        drawn++;
    }
    return drawn;
}

async function checkNoPageScroll(page) {
    const sizes = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        viewport: window.innerWidth
    }));
    assert.ok(sizes.page <= sizes.viewport, `no sideways page scroll (${sizes.page} > ${sizes.viewport})`);
    const timeline = await page.locator('.board__scroll').evaluate((el) => ({
        scroll: el.scrollWidth,
        client: el.clientWidth,
        overflow: getComputedStyle(el).overflowX
    }));
    assert.equal(timeline.overflow, 'auto', 'the timeline scrolls on its own');
    return timeline;
}

for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    test(`${name}: each mock booking is drawn in its row at its time`, async () => {
        const { page, errors } = await openBoard(viewport);
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: path.join(SHOTS, `board-${name}.png`), fullPage: true });
        const drawn = await checkBlocks(page);
        assert.equal(drawn, 8, 'eight bookings that are not cancelled');
        const timeline = await checkNoPageScroll(page);
        if (name === 'phone') {
            assert.ok(timeline.scroll > timeline.client, 'on a phone the timeline scrolls inside its box');
        }
        assert.deepEqual(errors, []);
        await page.close();
    });
}

test('desktop: book a free slot, and see the guard refuse a slot taken meanwhile', async () => {
    const { page, errors } = await openBoard(VIEWPORTS.desktop);
    const car = 'a02PREVIEW0000002'; // プリウス Z #2, free at 13:00
    const at13 = OPEN_MS + 8 * SLOT_MS;
    await page.locator(`li[data-vehicle-id="${car}"] button.slot_free[data-start="${at13}"]`).click();
    await page.locator('section[role="dialog"]').waitFor();
    await page.locator('.opportunity-search input').fill('山田');
    await page.locator('button.match').first().click();
    assert.equal(await page.locator('.reservation-name input').inputValue(), '山田太郎様Priusモデル試乗');
    assert.equal(await page.locator('.start input').inputValue(), `${DAY}T13:00`);
    assert.equal(await page.locator('.end input').inputValue(), `${DAY}T13:30`);
    await page.screenshot({ path: path.join(SHOTS, 'board-desktop-form.png') });
    await page.locator('.save button').click();
    await page.locator('section[role="dialog"]').waitFor({ state: 'detached' });
    const created = await page.evaluate(() => window.__previewOrg.reservations.at(-1));
    assert.equal(created.vehicleId, car);
    assert.equal(created.startTime, new Date(at13).toISOString());
    const block = page.locator(`[data-reservation-id="${created.id}"]`);
    await block.waitFor();
    assert.ok(
        Math.abs((await block.boundingBox()).x - (await xOf(page, at13))) <= 1.5,
        'the new booking is drawn at 13:00'
    );

    // Someone else books 14:00 on the same car while the form is open.
    const at14 = OPEN_MS + 10 * SLOT_MS;
    await page.locator(`li[data-vehicle-id="${car}"] button.slot_free[data-start="${at14}"]`).click();
    await page.evaluate(
        ({ car: vehicleId, at }) =>
            window.__previewOrg.reservations.push({
                id: 'a03PREVIEWOTHER01',
                name: '他店舗様Priusモデル試乗',
                vehicleId,
                startTime: new Date(at).toISOString(),
                endTime: new Date(at + 3600000).toISOString(),
                status: 'Scheduled'
            }),
        { car, at: at14 }
    );
    await page.locator('.opportunity-search input').fill('佐藤');
    await page.locator('button.match').first().click();
    await page.locator('.save button').click();
    const error = page.locator('.form-error');
    await error.waitFor();
    assert.equal(
        await error.textContent(),
        'この試乗車は予約「他店舗様Priusモデル試乗」(2026/12/03 14:00〜2026/12/03 15:00、Asia/Tokyo)で予約済みです。'
    );
    assert.equal(await page.locator('section[role="dialog"]').count(), 1, 'the form stays open');
    assert.deepEqual(errors, []);
    await page.close();
});
