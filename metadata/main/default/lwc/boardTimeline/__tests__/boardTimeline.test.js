import {
    addDays,
    cascade,
    conflicts,
    dayOf,
    errorMessage,
    formatLabel,
    freeCars,
    layout,
    matchingCars,
    parseTime,
    timeOf,
    zonedEpoch
} from 'c/boardTimeline';

const BOARD = require('../../testDriveBoard/__tests__/data/getBoard.json');

const MINUTE = 60000;

describe('c/boardTimeline', () => {
    it('converts wall-clock times of a zone to instants', () => {
        expect(new Date(zonedEpoch('2026-12-03', 9 * 60, 'Asia/Tokyo')).toISOString()).toBe('2026-12-03T00:00:00.000Z');
        expect(new Date(zonedEpoch('2026-12-03', 9 * 60, 'America/New_York')).toISOString()).toBe(
            '2026-12-03T14:00:00.000Z'
        );
        // summer time starts 2026-03-08 02:00 in New York: 09:00 is EDT (UTC-4)
        expect(new Date(zonedEpoch('2026-03-08', 9 * 60, 'America/New_York')).toISOString()).toBe(
            '2026-03-08T13:00:00.000Z'
        );
        expect(new Date(zonedEpoch('2026-03-08', 60, 'America/New_York')).toISOString()).toBe(
            '2026-03-08T06:00:00.000Z'
        );
    });

    it('reads the day and time of an instant in a zone', () => {
        const instant = Date.parse('2026-12-02T15:30:00.000Z');
        expect(dayOf(instant, 'Asia/Tokyo')).toBe('2026-12-03');
        expect(timeOf(instant, 'Asia/Tokyo')).toBe('00:30');
        expect(dayOf(instant, 'UTC')).toBe('2026-12-02');
        expect(timeOf(instant, 'UTC')).toBe('15:30');
    });

    it('adds days across months and years', () => {
        expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
        expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    });

    it('parses HH:mm and falls back otherwise', () => {
        expect(parseTime('09:30', 0)).toBe(570);
        expect(parseTime(' 7:05 ', 0)).toBe(425);
        expect(parseTime('24:00', 0)).toBe(1440);
        expect(parseTime('25:00', 540)).toBe(540);
        expect(parseTime('nine', 540)).toBe(540);
        expect(parseTime(undefined, 540)).toBe(540);
    });

    it('cascades the filters and clears values no longer offered', () => {
        const labels = { Hybrid: 'ハイブリッド' };
        const all = cascade(BOARD.cars, {}, labels, 'All');
        expect(all.filters).toEqual({ brand: '', model: '', grade: '', powertrain: '' });
        expect(all.options.grade.map((o) => o.value)).toEqual(['', 'G', 'Z']);
        const nissanPrius = cascade(BOARD.cars, { brand: 'Nissan', model: 'Prius', grade: 'G' }, labels, 'All');
        expect(nissanPrius.filters).toEqual({ brand: 'Nissan', model: '', grade: 'G', powertrain: '' });
        expect(nissanPrius.options.powertrain).toEqual([
            { label: 'All', value: '' },
            { label: 'Electric', value: 'Electric' }
        ]);
        expect(cascade(undefined, {}, labels, 'All').options.brand).toEqual([{ label: 'All', value: '' }]);
    });

    it('matches cars by every chosen filter', () => {
        expect(matchingCars(BOARD.cars, { grade: 'Z', powertrain: 'Hybrid' }).map((c) => c.name)).toEqual([
            'Prius Z #1',
            'Prius Z #2'
        ]);
        expect(matchingCars(null, {})).toEqual([]);
    });

    it('treats bookings as half-open intervals with the buffer after the end', () => {
        const booked = [{ start: 60 * MINUTE, end: 120 * MINUTE }];
        expect(conflicts(120 * MINUTE, 150 * MINUTE, booked, 0)).toBe(false);
        expect(conflicts(30 * MINUTE, 60 * MINUTE, booked, 0)).toBe(false);
        expect(conflicts(119 * MINUTE, 150 * MINUTE, booked, 0)).toBe(true);
        expect(conflicts(120 * MINUTE, 150 * MINUTE, booked, 30)).toBe(true);
        expect(conflicts(150 * MINUTE, 180 * MINUTE, booked, 30)).toBe(false);
        // the new booking's own buffer must not run into the next one
        expect(conflicts(20 * MINUTE, 50 * MINUTE, booked, 30)).toBe(true);
        expect(conflicts(0, 30 * MINUTE, booked, 30)).toBe(false);
    });

    it('lays out slots, bookings and buffers', () => {
        const view = {
            day: '2026-12-03',
            timeZone: 'Asia/Tokyo',
            open: 540,
            close: 1140,
            slotMinutes: 30,
            slotWidth: 56
        };
        const result = layout(BOARD.cars, BOARD.reservations, BOARD.buffers, view);
        expect(result.width).toBe(20 * 56);
        expect(result.header[0].label).toBe('09:00');
        const prius = result.rows[0];
        expect(prius.blocks.map((b) => [b.reservation.id, b.left, b.width])).toEqual([
            ['a03000000000001AAA', 112, 112],
            ['a03000000000002AAA', 616, 112]
        ]);
        expect(prius.slots.filter((s) => !s.free).map((s) => timeOf(s.start, 'Asia/Tokyo'))).toEqual([
            '10:00',
            '10:30',
            '14:30',
            '15:00'
        ]);
        const bz4x = result.rows[3];
        expect(bz4x.buffer).toBe(30);
        expect(bz4x.shades).toEqual([{ key: 'a03000000000004AAA-buffer', left: 336, width: 56 }]);
        expect(bz4x.slots.filter((s) => !s.free).map((s) => timeOf(s.start, 'Asia/Tokyo'))).toEqual([
            '10:30',
            '11:00',
            '11:30',
            '12:00'
        ]);
    });

    it('ignores bookings outside the hours and without times', () => {
        const view = {
            day: '2026-12-03',
            timeZone: 'Asia/Tokyo',
            open: 540,
            close: 600,
            slotMinutes: 30,
            slotWidth: 56
        };
        const reservations = [
            { id: 'x', vehicleId: 'c', startTime: '2026-12-03T05:00:00.000Z', endTime: '2026-12-03T06:00:00.000Z' },
            { id: 'y', vehicleId: 'c', startTime: null, endTime: '2026-12-03T06:00:00.000Z' },
            { id: 'z', vehicleId: 'c', startTime: '2026-12-03T06:00:00.000Z', endTime: '2026-12-03T05:00:00.000Z' }
        ];
        const result = layout([{ id: 'c', powertrain: 'Gasoline' }], reservations, undefined, view);
        expect(result.rows[0].blocks).toEqual([]);
        expect(result.rows[0].slots.every((s) => s.free)).toBe(true);
        expect(layout(undefined, undefined, undefined, view).rows).toEqual([]);
    });

    it('finds the cars free for a whole booking', () => {
        const start = Date.parse('2026-12-03T03:00:00.000Z'); // 12:00 JST
        const end = start + 30 * MINUTE;
        expect(freeCars(BOARD.cars, BOARD.reservations, BOARD.buffers, start, end).map((c) => c.name)).toEqual([
            'Prius Z #1',
            'Prius Z #2',
            'Prius G',
            'Leaf G'
        ]);
        expect(freeCars(BOARD.cars, BOARD.reservations, undefined, start, end)).toHaveLength(5);
    });

    it('formats labels and error messages', () => {
        expect(formatLabel('{0}様{1}モデル試乗', '山田', 'Prius')).toBe('山田様Priusモデル試乗');
        expect(formatLabel('{0} {2}', 'a')).toBe('a ');
        expect(errorMessage(undefined)).toBe('');
        expect(errorMessage({ body: { message: 'Guard says no' } })).toBe('Guard says no');
        expect(errorMessage({ body: [{ message: 'one' }, { message: 'two' }] })).toBe('one, two');
        expect(errorMessage(new Error('plain'))).toBe('plain');
        expect(errorMessage('text')).toBe('text');
    });
});
