/*
 * Pure functions of the test-drive board: dates in a time zone, the filter cascade, and where
 * slots, bookings and buffers go on the timeline. No DOM here, so the Jest tests and the preview
 * use exactly what the org runs.
 */

const MINUTE = 60000;
export const STATUS_CANCELLED = 'Cancelled';
export const STATUS_COMPLETED = 'Completed';

const partsCache = new Map();

function formatter(timeZone) {
    if (!partsCache.has(timeZone)) {
        partsCache.set(
            timeZone,
            new Intl.DateTimeFormat('en-US', {
                timeZone,
                hourCycle: 'h23',
                year: 'numeric',
                month: '2-digit',
                day: '2-digit',
                hour: '2-digit',
                minute: '2-digit',
                second: '2-digit'
            })
        );
    }
    return partsCache.get(timeZone);
}

/** The wall-clock fields of an instant in a time zone. */
export function zonedParts(epoch, timeZone) {
    const out = {};
    for (const part of formatter(timeZone).formatToParts(new Date(epoch))) {
        if (part.type !== 'literal') {
            out[part.type] = Number(part.value);
        }
    }
    return out;
}

/** Minutes the zone is ahead of UTC at the instant. */
function offsetMinutes(epoch, timeZone) {
    const p = zonedParts(epoch, timeZone);
    const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    return (asUtc - Math.floor(epoch / 1000) * 1000) / MINUTE;
}

/** The instant of `minutes` after midnight of `day` (YYYY-MM-DD) on the zone's clock. */
export function zonedEpoch(day, minutes, timeZone) {
    const [year, month, date] = day.split('-').map(Number);
    const wall = Date.UTC(year, month - 1, date, 0, minutes);
    const guess = wall - offsetMinutes(wall, timeZone) * MINUTE;
    // A second pass settles days on which the offset changes (summer time).
    return wall - offsetMinutes(guess, timeZone) * MINUTE;
}

const pad = (n) => String(n).padStart(2, '0');

/** YYYY-MM-DD of the instant in the zone. */
export function dayOf(epoch, timeZone) {
    const p = zonedParts(epoch, timeZone);
    return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** HH:mm of the instant in the zone. */
export function timeOf(epoch, timeZone) {
    const p = zonedParts(epoch, timeZone);
    return `${pad(p.hour)}:${pad(p.minute)}`;
}

export function addDays(day, days) {
    const [year, month, date] = day.split('-').map(Number);
    const d = new Date(Date.UTC(year, month - 1, date + days));
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** '09:30' -> 570; anything else -> fallback. */
export function parseTime(value, fallback) {
    const match = /^(\d{1,2}):(\d{2})$/.exec(String(value ?? '').trim());
    if (!match) {
        return fallback;
    }
    const minutes = Number(match[1]) * 60 + Number(match[2]);
    return minutes <= 24 * 60 ? minutes : fallback;
}

/** Distinct non-empty values of `field`, sorted, as combobox options after an "All" entry. */
function distinct(cars, field, labelOf, allLabel) {
    const values = [...new Set(cars.map((c) => c[field]).filter((v) => v))].sort((a, b) => a.localeCompare(b));
    return [{ label: allLabel, value: '' }, ...values.map((v) => ({ label: labelOf(v), value: v }))];
}

const FILTER_FIELDS = ['brand', 'model', 'grade', 'powertrain'];

/** Cars passing the filters; a blank filter passes everything. */
export function matchingCars(cars, filters) {
    return (cars || []).filter((car) => FILTER_FIELDS.every((f) => !filters[f] || car[f] === filters[f]));
}

/**
 * The cascade brand -> model -> grade -> powertrain: each level offers the values of the cars
 * that pass the levels above it, and a chosen value that is no longer offered is cleared.
 */
export function cascade(cars, filters, powertrainLabels, allLabel) {
    const chosen = {};
    const options = {};
    let pool = cars || [];
    for (const field of FILTER_FIELDS) {
        const labelOf = field === 'powertrain' ? (v) => powertrainLabels[v] || v : (v) => v;
        options[field] = distinct(pool, field, labelOf, allLabel);
        const value = filters[field] || '';
        chosen[field] = options[field].some((o) => o.value === value) ? value : '';
        if (chosen[field]) {
            pool = pool.filter((car) => car[field] === chosen[field]);
        }
    }
    return { filters: chosen, options };
}

/** True when the interval [start, end) conflicts with a booking, with the car's buffer after each. */
export function conflicts(start, end, bookings, bufferMinutes) {
    const buffer = (bufferMinutes || 0) * MINUTE;
    return bookings.some((b) => b.start < end + buffer && start < b.end + buffer);
}

function occupying(reservations) {
    return (reservations || [])
        .filter((r) => r.status !== STATUS_CANCELLED && r.startTime && r.endTime)
        .map((r) => ({ ...r, start: Date.parse(r.startTime), end: Date.parse(r.endTime) }))
        .filter((r) => r.end > r.start);
}

/**
 * Everything the board draws. `view`: day, timeZone, open and close (minutes after midnight),
 * slotMinutes, slotWidth (px). Returns the header slots and one row per car with its slots
 * (free ones bookable), bookings and buffers, each with px positions inside the row's track.
 */
export function layout(cars, reservations, buffers, view) {
    const { day, timeZone, open, close, slotMinutes, slotWidth } = view;
    const first = zonedEpoch(day, open, timeZone);
    const last = zonedEpoch(day, close, timeZone);
    const pxPerMinute = slotWidth / slotMinutes;
    const x = (epoch) => Math.round(((epoch - first) / MINUTE) * pxPerMinute);
    const slotStarts = [];
    for (let t = first; t < last; t += slotMinutes * MINUTE) {
        slotStarts.push(t);
    }
    const header = slotStarts.map((t) => ({ key: String(t), start: t, label: timeOf(t, timeZone) }));
    const booked = occupying(reservations);
    const rows = (cars || []).map((car) => {
        const own = booked.filter((r) => r.vehicleId === car.id);
        const buffer = (buffers && buffers[car.powertrain]) || 0;
        const slots = slotStarts.map((t) => {
            const end = Math.min(t + slotMinutes * MINUTE, last);
            return { key: `${car.id}-${t}`, start: t, end, free: !conflicts(t, end, own, buffer) };
        });
        const blocks = [];
        const shades = [];
        for (const r of own) {
            const from = Math.max(r.start, first);
            const to = Math.min(r.end, last);
            if (to > from) {
                blocks.push({ reservation: r, left: x(from), width: x(to) - x(from) });
            }
            const bufferEnd = Math.min(r.end + buffer * MINUTE, last);
            const bufferStart = Math.max(r.end, first);
            if (buffer > 0 && bufferEnd > bufferStart) {
                shades.push({ key: `${r.id}-buffer`, left: x(bufferStart), width: x(bufferEnd) - x(bufferStart) });
            }
        }
        return { car, slots, blocks, shades, buffer };
    });
    return { first, last, header, rows, width: slotStarts.length * slotWidth };
}

/** The cars of `candidates` free for the whole of [start, end), buffer after it included. */
export function freeCars(candidates, reservations, buffers, start, end) {
    const booked = occupying(reservations);
    return candidates.filter(
        (car) =>
            !conflicts(
                start,
                end,
                booked.filter((r) => r.vehicleId === car.id),
                (buffers && buffers[car.powertrain]) || 0
            )
    );
}

/** Fills {0}, {1}, ... of a label. */
export function formatLabel(template, ...values) {
    return String(template).replace(/\{(\d+)\}/g, (m, i) => (values[Number(i)] ?? '').toString());
}

/** The message of an Apex or JS error, for showing to the user. */
export function errorMessage(error) {
    if (!error) {
        return '';
    }
    if (Array.isArray(error.body)) {
        return error.body.map((e) => e.message).join(', ');
    }
    if (error.body && typeof error.body.message === 'string') {
        return error.body.message;
    }
    return error.message || String(error);
}
