import { createElement } from 'lwc';
import BoardBookingForm from 'c/boardBookingForm';
import searchOpportunities from '@salesforce/apex/TestDriveBoardController.searchOpportunities';
import bookTestDrive from '@salesforce/apex/TestDriveBoardController.bookTestDrive';

const MATCHES = require('./data/searchOpportunities.json');
const CONFLICT = require('./data/bookTestDriveConflict.json');
const CARS = require('./data/cars.json');

jest.mock('@salesforce/apex/TestDriveBoardController.searchOpportunities', () => ({ default: jest.fn() }), {
    virtual: true
});
jest.mock('@salesforce/apex/TestDriveBoardController.bookTestDrive', () => ({ default: jest.fn() }), {
    virtual: true
});
jest.mock('@salesforce/label/c.Test_Drive_Board_Name_Suggestion', () => ({ default: '{0}様{1}モデル試乗' }), {
    virtual: true
});
jest.mock('@salesforce/label/c.Test_Drive_Board_Any_Free_Car', () => ({ default: 'Any free car ({0} matching)' }), {
    virtual: true
});
jest.mock('@salesforce/label/c.Test_Drive_Board_Required', () => ({ default: 'Complete this field.' }), {
    virtual: true
});
jest.mock(
    '@salesforce/label/c.Test_Drive_Board_End_After_Start',
    () => ({ default: 'Scheduled End must be after Scheduled Start.' }),
    { virtual: true }
);

const START = '2026-12-03T00:00:00.000Z';
const END = '2026-12-03T00:30:00.000Z';
const LOCATIONS = [
    { value: 'Showroom', label: '店舗' },
    { value: 'Customer_Home', label: 'お客様宅' }
];

async function flush() {
    for (let i = 0; i < 5; i++) {
        // eslint-disable-next-line no-await-in-loop
        await Promise.resolve();
    }
}

function mount(props = {}) {
    const element = createElement('c-board-booking-form', { is: BoardBookingForm });
    Object.assign(element, {
        vehicleId: CARS[0].id,
        cars: CARS,
        start: START,
        end: END,
        timeZone: 'Asia/Tokyo',
        locations: LOCATIONS,
        ...props
    });
    document.body.appendChild(element);
    return element;
}

const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const $$ = (element, selector) => [...element.shadowRoot.querySelectorAll(selector)];

function change(target, value) {
    target.dispatchEvent(new CustomEvent('change', { detail: { value } }));
}

async function pickOpportunity(element, index = 0) {
    change($(element, '.opportunity-search'), '山田');
    jest.advanceTimersByTime(300);
    await flush();
    $$(element, 'button.match')[index].click();
    await flush();
}

describe('c-board-booking-form', () => {
    beforeEach(() => {
        jest.useFakeTimers();
        searchOpportunities.mockResolvedValue(MATCHES);
    });

    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
        jest.useRealTimers();
    });

    it('starts with the slot times, the first location and the clicked car', async () => {
        const element = mount();
        await flush();
        expect($(element, '.start').value).toBe(START);
        expect($(element, '.end').value).toBe(END);
        expect($(element, '.start').timezone).toBe('Asia/Tokyo');
        expect($(element, '.location').value).toBe('Showroom');
        const car = $(element, '.car-choice');
        expect(car.value).toBe(CARS[0].id);
        expect(car.options.map((o) => o.value)).toEqual(['any', CARS[0].id, CARS[1].id]);
        expect(car.options[0].label).toBe('Any free car (2 matching)');
    });

    it('offers no car choice for a single matching car', async () => {
        const element = mount({ cars: [CARS[0]] });
        await flush();
        expect($(element, '.car-choice')).toBeNull();
    });

    it('searches after a pause and only from two characters', async () => {
        const element = mount();
        const search = $(element, '.opportunity-search');
        change(search, '山');
        jest.advanceTimersByTime(1000);
        expect(searchOpportunities).not.toHaveBeenCalled();

        change(search, '山田');
        jest.advanceTimersByTime(299);
        change(search, '山田 ');
        jest.advanceTimersByTime(299);
        expect(searchOpportunities).not.toHaveBeenCalled();
        jest.advanceTimersByTime(1);
        await flush();
        expect(searchOpportunities).toHaveBeenCalledTimes(1);
        expect(searchOpportunities).toHaveBeenCalledWith({ term: '山田' });
        expect($$(element, 'button.match').map((b) => b.textContent.trim())).toEqual([
            '山田 新車 (山田太郎)',
            '山田 乗り換え'
        ]);

        change(search, '');
        await flush();
        expect($$(element, 'button.match')).toHaveLength(0);
    });

    it('says when nothing matches', async () => {
        searchOpportunities.mockResolvedValue([]);
        const element = mount();
        change($(element, '.opportunity-search'), 'zz');
        jest.advanceTimersByTime(300);
        await flush();
        expect($(element, '.no-match')).not.toBeNull();
    });

    it('shows a search error', async () => {
        searchOpportunities.mockRejectedValue({ body: { message: 'Search failed' } });
        const element = mount();
        change($(element, '.opportunity-search'), 'zz');
        jest.advanceTimersByTime(300);
        await flush();
        expect($(element, '.form-error').textContent).toBe('Search failed');
    });

    it('suggests the name from the customer and the model', async () => {
        const element = mount();
        await pickOpportunity(element);
        expect($(element, '.picked__name').textContent).toBe('山田 新車 (山田太郎)');
        expect($(element, '.reservation-name').value).toBe('山田太郎様Priusモデル試乗');
        // without an account the Opportunity name stands in for the customer
        $(element, '.picked__clear').click();
        await flush();
        await pickOpportunity(element, 1);
        expect($(element, '.reservation-name').value).toBe('山田 乗り換え様Priusモデル試乗');
    });

    it('keeps a name the user typed', async () => {
        const element = mount();
        change($(element, '.reservation-name'), '特別試乗');
        await pickOpportunity(element);
        expect($(element, '.reservation-name').value).toBe('特別試乗');
    });

    it('saves the booking with the slot times and tells the board', async () => {
        bookTestDrive.mockResolvedValue('a03000000000099AAA');
        const element = mount();
        const saved = jest.fn();
        element.addEventListener('saved', saved);
        await pickOpportunity(element);
        change($(element, '.location'), 'Customer_Home');
        $(element, '.save').click();
        await flush();
        expect(bookTestDrive).toHaveBeenCalledWith({
            request: {
                opportunityId: '006000000000001AAA',
                name: '山田太郎様Priusモデル試乗',
                startTime: START,
                endTime: END,
                location: 'Customer_Home',
                vehicleIds: [CARS[0].id]
            }
        });
        expect(saved).toHaveBeenCalledTimes(1);
        expect(saved.mock.calls[0][0].detail).toEqual({ id: 'a03000000000099AAA', name: '山田太郎様Priusモデル試乗' });
    });

    it('moves the end with the start and accepts an edited end', async () => {
        bookTestDrive.mockResolvedValue('a03000000000099AAA');
        const element = mount();
        await pickOpportunity(element);
        change($(element, '.start'), '2026-12-03T01:00:00.000Z');
        await flush();
        expect($(element, '.end').value).toBe('2026-12-03T01:30:00.000Z');
        change($(element, '.end'), '2026-12-03T02:00:00.000Z');
        $(element, '.save').click();
        await flush();
        expect(bookTestDrive.mock.calls[0][0].request).toMatchObject({
            startTime: '2026-12-03T01:00:00.000Z',
            endTime: '2026-12-03T02:00:00.000Z'
        });
    });

    it('books any free car: the clicked one first, then the others', async () => {
        bookTestDrive.mockResolvedValue('a03000000000099AAA');
        const element = mount({ vehicleId: CARS[1].id });
        await pickOpportunity(element);
        change($(element, '.car-choice'), 'any');
        await flush();
        $(element, '.save').click();
        await flush();
        expect(bookTestDrive.mock.calls[0][0].request.vehicleIds).toEqual([CARS[1].id, CARS[0].id]);
        expect(bookTestDrive.mock.calls[0][0].request.name).toBe('山田太郎様Priusモデル試乗');
    });

    it('shows the guard error when someone else took the slot', async () => {
        bookTestDrive.mockRejectedValue(CONFLICT);
        const element = mount();
        const saved = jest.fn();
        element.addEventListener('saved', saved);
        await pickOpportunity(element);
        $(element, '.save').click();
        await flush();
        expect($(element, '.form-error').textContent).toBe(CONFLICT.body.message);
        expect($(element, '.form-error').getAttribute('role')).toBe('alert');
        expect(saved).not.toHaveBeenCalled();
        expect($(element, '.save').disabled).toBe(false);
    });

    it('asks for the Opportunity before saving', async () => {
        const element = mount();
        $(element, '.save').click();
        await flush();
        expect($(element, '.form-error').textContent).toBe('Complete this field.');
        expect(bookTestDrive).not.toHaveBeenCalled();
    });

    it('refuses an end before the start', async () => {
        const element = mount();
        await pickOpportunity(element);
        change($(element, '.end'), '2026-12-02T23:30:00.000Z');
        $(element, '.save').click();
        await flush();
        expect($(element, '.form-error').textContent).toBe('Scheduled End must be after Scheduled Start.');
        expect(bookTestDrive).not.toHaveBeenCalled();
    });

    it('closes on Cancel and on Escape', async () => {
        const element = mount();
        const close = jest.fn();
        element.addEventListener('close', close);
        $(element, '.cancel').click();
        $(element, 'section').dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
        $(element, 'section').dispatchEvent(new KeyboardEvent('keydown', { key: 'a' }));
        expect(close).toHaveBeenCalledTimes(2);
    });

    it('is accessible', async () => {
        jest.useRealTimers();
        const element = mount();
        await flush();
        await expect(element).toBeAccessible();
    });

    it('is accessible with search results', async () => {
        const element = mount();
        change($(element, '.opportunity-search'), '山田');
        jest.advanceTimersByTime(300);
        await flush();
        jest.useRealTimers();
        await expect(element).toBeAccessible();
    });
});
