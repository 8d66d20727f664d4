import { createElement } from 'lwc';
import TestDriveBoard from 'c/testDriveBoard';
import getBoard from '@salesforce/apex/TestDriveBoardController.getBoard';
import { refreshApex } from '@salesforce/apex';

const BOARD = require('./data/getBoard.json');
const BOARD_NEW_YORK = require('./data/getBoardNewYork.json');
const BOARD_EMPTY = require('./data/getBoardEmpty.json');

jest.mock(
    '@salesforce/apex/TestDriveBoardController.getBoard',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);
jest.mock('@salesforce/apex', () => ({ refreshApex: jest.fn(() => Promise.resolve()) }), { virtual: true });
jest.mock('@salesforce/i18n/timeZone', () => ({ default: 'Asia/Tokyo' }), { virtual: true });
jest.mock('@salesforce/label/c.Test_Drive_Board_Book_Slot', () => ({ default: 'Book {0} at {1}' }), {
    virtual: true
});
jest.mock('@salesforce/label/c.Test_Drive_Board_Saved', () => ({ default: 'Test drive booked: {0}' }), {
    virtual: true
});
jest.mock('@salesforce/label/c.Test_Drive_Board_All', () => ({ default: 'All' }), { virtual: true });
jest.mock('@salesforce/label/c.Test_Drive_Board_Booked', () => ({ default: 'Booked' }), { virtual: true });
jest.mock('@salesforce/label/c.Test_Drive_Board_Status_Completed', () => ({ default: 'Completed' }), {
    virtual: true
});
jest.mock('@salesforce/label/c.Test_Drive_Board_Status_Scheduled', () => ({ default: 'Scheduled' }), {
    virtual: true
});
jest.mock('@salesforce/label/c.Test_Drive_Board_Load_Failed', () => ({ default: 'The board could not be loaded:' }), {
    virtual: true
});

// 2026-12-03 12:00 in Tokyo
const NOW = Date.parse('2026-12-03T03:00:00.000Z');
const SLOT = 56;

async function flush() {
    for (let i = 0; i < 5; i++) {
        // eslint-disable-next-line no-await-in-loop
        await Promise.resolve();
    }
}

function mount(props = {}) {
    const element = createElement('c-test-drive-board', { is: TestDriveBoard });
    Object.assign(element, props);
    document.body.appendChild(element);
    return element;
}

const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const $$ = (element, selector) => [...element.shadowRoot.querySelectorAll(selector)];
const row = (element, carId) => $(element, `li[data-vehicle-id="${carId}"]`);
const block = (element, id) => $(element, `[data-reservation-id="${id}"]`);
const combobox = (element, name) => $(element, `lightning-combobox.filter_${name}`);

function choose(element, name, value) {
    const box = combobox(element, name);
    box.dispatchEvent(new CustomEvent('change', { detail: { value } }));
}

describe('c-test-drive-board', () => {
    beforeEach(() => {
        jest.spyOn(Date, 'now').mockReturnValue(NOW);
    });

    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.restoreAllMocks();
        refreshApex.mockClear();
    });

    it('asks for today in the user time zone with no filters', async () => {
        mount();
        await flush();
        expect(getBoard.getLastConfig()).toEqual({
            day: '2026-12-03',
            storeId: '',
            brand: '',
            model: '',
            grade: '',
            powertrain: ''
        });
    });

    it('draws one row per active car and 30-minute slots from 09:00 to 19:00', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        expect($$(element, 'li[data-vehicle-id]').map((li) => li.dataset.vehicleId)).toEqual(
            BOARD.cars.map((c) => c.id)
        );
        const hours = $$(element, '.timeline__hour').map((h) => h.textContent.trim());
        expect(hours).toHaveLength(20);
        expect(hours[0]).toBe('09:00');
        expect(hours[1]).toBe('09:30');
        expect(hours[19]).toBe('18:30');
        expect($(element, '.car__detail').textContent).toBe('Prius / Z / ハイブリッド');
    });

    it('places each booking at its times in the user time zone', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        // 10:00-11:00 JST: two slots after 09:00, two slots wide
        const morning = block(element, 'a03000000000001AAA');
        expect(row(element, 'a02000000000001AAA').contains(morning)).toBe(true);
        expect(morning.style.left).toBe(`${2 * SLOT}px`);
        expect(morning.style.width).toBe(`${2 * SLOT}px`);
        expect(morning.querySelector('.block__name').textContent).toBe('山田様Priusモデル試乗');
        expect(morning.querySelector('.block__status').textContent).toBe('Scheduled');
        expect(morning.title).toBe('山田様Priusモデル試乗 10:00-11:00 (Scheduled)');
        // 08:30-09:30 JST starts before opening: clipped to 09:00-09:30
        const early = block(element, 'a03000000000005AAA');
        expect(row(element, 'a02000000000002AAA').contains(early)).toBe(true);
        expect(early.style.left).toBe('0px');
        expect(early.style.width).toBe(`${SLOT}px`);
        // 16:15-17:00 JST, off the slot grid; no visible name: "Booked"
        const late = block(element, 'a03000000000006AAA');
        expect(late.style.left).toBe(`${(435 / 30) * SLOT}px`);
        expect(late.style.width).toBe(`${(45 / 30) * SLOT}px`);
        expect(late.querySelector('.block__name').textContent).toBe('Booked');
    });

    it('hides cancelled bookings, dims completed ones and shades buffers', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        expect(block(element, 'a03000000000003AAA')).toBeNull();
        const completed = block(element, 'a03000000000002AAA');
        expect(completed.className).toBe('block block_completed');
        expect(completed.querySelector('.block__status').textContent).toBe('Completed');
        // bZ4X (Electric, 30 minutes) booked 11:00-12:00: shaded 12:00-12:30
        const shades = [...row(element, 'a02000000000004AAA').querySelectorAll('.buffer')];
        expect(shades).toHaveLength(1);
        expect(shades[0].style.left).toBe(`${6 * SLOT}px`);
        expect(shades[0].style.width).toBe(`${SLOT}px`);
        expect([...row(element, 'a02000000000001AAA').querySelectorAll('.buffer')]).toHaveLength(0);
    });

    it('places bookings by the time zone of the answer', async () => {
        const element = mount();
        getBoard.emit(BOARD_NEW_YORK);
        await flush();
        // 15:00Z is 10:00 in New York in December
        const b = block(element, 'a03000000000009AAA');
        expect(b.style.left).toBe(`${2 * SLOT}px`);
        expect(b.style.width).toBe(`${SLOT}px`);
    });

    it('follows configured opening hours and slot length', async () => {
        const element = mount({ openingTime: '10:00', closingTime: '12:00', slotMinutes: 60 });
        getBoard.emit(BOARD);
        await flush();
        expect($$(element, '.timeline__hour').map((h) => h.textContent.trim())).toEqual(['10:00', '11:00']);
        expect(block(element, 'a03000000000001AAA').style.left).toBe('0px');
        expect(block(element, 'a03000000000001AAA').style.width).toBe(`${SLOT}px`);
    });

    it('cascades brand -> model -> grade -> powertrain and asks the server again', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        const values = (name) => combobox(element, name).options.map((o) => o.value);
        expect(values('brand')).toEqual(['', 'Nissan', 'Toyota']);
        expect(values('model')).toEqual(['', 'bZ4X', 'Leaf', 'Prius']);

        choose(element, 'brand', 'Toyota');
        await flush();
        expect(values('model')).toEqual(['', 'bZ4X', 'Prius']);
        expect(getBoard.getLastConfig().brand).toBe('Toyota');
        expect($$(element, 'li[data-vehicle-id]')).toHaveLength(4);

        choose(element, 'model', 'Prius');
        await flush();
        expect(values('grade')).toEqual(['', 'G', 'Z']);
        choose(element, 'grade', 'Z');
        await flush();
        expect(values('powertrain')).toEqual(['', 'Hybrid']);
        expect(combobox(element, 'powertrain').options[1].label).toBe('ハイブリッド');
        expect($$(element, 'li[data-vehicle-id]').map((li) => li.dataset.vehicleId)).toEqual([
            'a02000000000001AAA',
            'a02000000000002AAA'
        ]);
        expect(getBoard.getLastConfig()).toMatchObject({ brand: 'Toyota', model: 'Prius', grade: 'Z' });

        // Another brand clears the model and grade that it does not have
        choose(element, 'brand', 'Nissan');
        await flush();
        expect(getBoard.getLastConfig()).toMatchObject({ brand: 'Nissan', model: '', grade: '', powertrain: '' });
        expect($$(element, 'li[data-vehicle-id]').map((li) => li.dataset.vehicleId)).toEqual(['a02000000000005AAA']);
    });

    it('switches store and clears the filters', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        expect(combobox(element, 'store').value).toBe('a01000000000001AAA');
        choose(element, 'brand', 'Toyota');
        choose(element, 'store', 'a01000000000002AAA');
        await flush();
        expect(getBoard.getLastConfig()).toMatchObject({ storeId: 'a01000000000002AAA', brand: '' });
    });

    it('moves to the previous, next and chosen day and back to today', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        $(element, '.day_next').click();
        await flush();
        expect(getBoard.getLastConfig().day).toBe('2026-12-04');
        $(element, '.day_previous').click();
        $(element, '.day_previous').click();
        await flush();
        expect(getBoard.getLastConfig().day).toBe('2026-12-02');
        const input = $(element, '.day_input');
        input.dispatchEvent(new CustomEvent('change', { detail: { value: '2026-12-31' } }));
        await flush();
        expect(getBoard.getLastConfig().day).toBe('2026-12-31');
        input.dispatchEvent(new CustomEvent('change', { detail: { value: '' } }));
        await flush();
        expect(getBoard.getLastConfig().day).toBe('2026-12-31');
        $(element, '.day_today').click();
        await flush();
        expect(getBoard.getLastConfig().day).toBe('2026-12-03');
    });

    it('opens the booking form with the times of a free slot', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        const slot = row(element, 'a02000000000001AAA').querySelector('button.slot_free');
        expect(slot.getAttribute('aria-label')).toBe('Book Prius Z #1 at 09:00');
        slot.click();
        await flush();
        const form = $(element, 'c-board-booking-form');
        expect(form.vehicleId).toBe('a02000000000001AAA');
        expect(form.start).toBe('2026-12-03T00:00:00.000Z');
        expect(form.end).toBe('2026-12-03T00:30:00.000Z');
        expect(form.timeZone).toBe('Asia/Tokyo');
        expect(form.cars.map((c) => c.id)).toEqual(BOARD.cars.map((c) => c.id));
        expect(form.locations).toEqual(BOARD.locations);

        form.dispatchEvent(new CustomEvent('close'));
        await flush();
        expect($(element, 'c-board-booking-form')).toBeNull();
    });

    it('does not open the form from an occupied slot or a buffer', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        const start = (carId, hhmm) => {
            const [h, m] = hhmm.split(':').map(Number);
            const epoch = Date.parse('2026-12-03T00:00:00.000Z') + ((h - 9) * 60 + m) * 60000;
            return row(element, carId).querySelector(`.slot[data-start="${epoch}"]`);
        };
        const busy = start('a02000000000001AAA', '10:30');
        expect(busy.tagName).toBe('DIV');
        expect(busy.className).toBe('slot slot_busy');
        busy.click();
        // 12:00 on the bZ4X is inside the 30-minute charging buffer; 11:30 would end in it too
        expect(start('a02000000000004AAA', '12:00').tagName).toBe('DIV');
        expect(start('a02000000000004AAA', '12:30').tagName).toBe('BUTTON');
        // the cancelled 12:00 booking of Prius Z #1 frees its slot
        expect(start('a02000000000001AAA', '12:00').tagName).toBe('BUTTON');
        await flush();
        expect($(element, 'c-board-booking-form')).toBeNull();
    });

    it('after a save closes the form, shows a toast and refreshes the board', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        const toast = jest.fn();
        element.addEventListener('lightning__showtoast', toast);
        row(element, 'a02000000000001AAA').querySelector('button.slot_free').click();
        await flush();
        $(element, 'c-board-booking-form').dispatchEvent(
            new CustomEvent('saved', { detail: { id: 'a03000000000099AAA', name: '山田様Priusモデル試乗' } })
        );
        await flush();
        expect(refreshApex).toHaveBeenCalledTimes(1);
        expect(refreshApex.mock.calls[0][0].data).toEqual(BOARD);
        expect($(element, 'c-board-booking-form')).toBeNull();
        expect(toast).toHaveBeenCalledTimes(1);
        expect(toast.mock.calls[0][0].detail).toMatchObject({
            title: 'Test drive booked: 山田様Priusモデル試乗',
            variant: 'success'
        });
    });

    it('shows the empty state when no car matches', async () => {
        const element = mount();
        getBoard.emit(BOARD_EMPTY);
        await flush();
        expect($(element, '.board__empty').textContent).toBe('c.Test_Drive_Board_Empty');
        expect($(element, '.timeline')).toBeNull();
        expect($(element, 'lightning-combobox.filter_store')).toBeNull();
    });

    it('shows the error state', async () => {
        const element = mount();
        getBoard.error({ message: 'Insufficient access' });
        await flush();
        expect($(element, '.board__error').textContent).toBe('The board could not be loaded: Insufficient access');
        expect($(element, '.timeline')).toBeNull();
        expect($(element, 'lightning-spinner')).toBeNull();
    });

    it('shows a spinner until the first answer', async () => {
        const element = mount();
        await flush();
        expect($(element, 'lightning-spinner')).not.toBeNull();
    });

    it('is accessible', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        await expect(element).toBeAccessible();
    });

    it('is accessible with the form open', async () => {
        const element = mount();
        getBoard.emit(BOARD);
        await flush();
        row(element, 'a02000000000003AAA').querySelector('button.slot_free').click();
        await flush();
        await expect(element).toBeAccessible();
    });
});
