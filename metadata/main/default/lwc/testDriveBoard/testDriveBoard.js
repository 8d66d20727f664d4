import { LightningElement, api, wire } from 'lwc';
import { refreshApex } from '@salesforce/apex';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import getBoard from '@salesforce/apex/TestDriveBoardController.getBoard';
import USER_TIME_ZONE from '@salesforce/i18n/timeZone';
import {
    addDays,
    cascade,
    dayOf,
    errorMessage,
    formatLabel,
    layout,
    matchingCars,
    parseTime,
    timeOf,
    STATUS_COMPLETED
} from 'c/boardTimeline';

import TITLE from '@salesforce/label/c.Test_Drive_Board_Title';
import STORE from '@salesforce/label/c.Test_Drive_Board_Store';
import BRAND from '@salesforce/label/c.Test_Drive_Board_Brand';
import MODEL from '@salesforce/label/c.Test_Drive_Board_Model';
import GRADE from '@salesforce/label/c.Test_Drive_Board_Grade';
import POWERTRAIN from '@salesforce/label/c.Test_Drive_Board_Powertrain';
import ALL from '@salesforce/label/c.Test_Drive_Board_All';
import DATE_LABEL from '@salesforce/label/c.Test_Drive_Board_Date';
import PREVIOUS_DAY from '@salesforce/label/c.Test_Drive_Board_Previous_Day';
import NEXT_DAY from '@salesforce/label/c.Test_Drive_Board_Next_Day';
import TODAY from '@salesforce/label/c.Test_Drive_Board_Today';
import DEMO_CAR from '@salesforce/label/c.Test_Drive_Board_Demo_Car';
import EMPTY from '@salesforce/label/c.Test_Drive_Board_Empty';
import LOAD_FAILED from '@salesforce/label/c.Test_Drive_Board_Load_Failed';
import BOOK_SLOT from '@salesforce/label/c.Test_Drive_Board_Book_Slot';
import BOOKED from '@salesforce/label/c.Test_Drive_Board_Booked';
import BUFFER from '@salesforce/label/c.Test_Drive_Board_Buffer';
import STATUS_SCHEDULED_LABEL from '@salesforce/label/c.Test_Drive_Board_Status_Scheduled';
import STATUS_COMPLETED_LABEL from '@salesforce/label/c.Test_Drive_Board_Status_Completed';
import SAVED from '@salesforce/label/c.Test_Drive_Board_Saved';

const SLOT_WIDTH = 56;
const DEFAULT_OPEN = 9 * 60;
const DEFAULT_CLOSE = 19 * 60;
const DEFAULT_SLOT = 30;

export default class TestDriveBoard extends LightningElement {
    /** First slot of the day, HH:mm in the user's time zone. */
    @api openingTime = '09:00';
    /** End of the last slot, HH:mm. */
    @api closingTime = '19:00';
    /** Length of one slot in minutes. */
    @api slotMinutes = DEFAULT_SLOT;

    labels = {
        title: TITLE,
        store: STORE,
        brand: BRAND,
        model: MODEL,
        grade: GRADE,
        powertrain: POWERTRAIN,
        date: DATE_LABEL,
        previousDay: PREVIOUS_DAY,
        nextDay: NEXT_DAY,
        today: TODAY,
        demoCar: DEMO_CAR,
        empty: EMPTY,
        loadFailed: LOAD_FAILED,
        buffer: BUFFER
    };

    day = dayOf(Date.now(), USER_TIME_ZONE);
    storeId = '';
    brand = '';
    model = '';
    grade = '';
    powertrain = '';

    board;
    error;
    loading = true;
    booking;
    wiredResult;

    // One call per day, store or filter change; the filter options come in the same answer.
    @wire(getBoard, {
        day: '$day',
        storeId: '$storeId',
        brand: '$brand',
        model: '$model',
        grade: '$grade',
        powertrain: '$powertrain'
    })
    wiredBoard(result) {
        this.wiredResult = result;
        if (result.data) {
            this.board = result.data;
            this.error = undefined;
            this.loading = false;
        } else if (result.error) {
            this.error = result.error;
            this.loading = false;
        }
    }

    get timeZone() {
        return (this.board && this.board.timeZone) || USER_TIME_ZONE;
    }

    get powertrainLabels() {
        const labels = {};
        for (const option of (this.board && this.board.powertrains) || []) {
            labels[option.value] = option.label;
        }
        return labels;
    }

    get cascadeState() {
        return cascade(
            (this.board && this.board.cars) || [],
            { brand: this.brand, model: this.model, grade: this.grade, powertrain: this.powertrain },
            this.powertrainLabels,
            ALL
        );
    }

    get brandOptions() {
        return this.cascadeState.options.brand;
    }

    get modelOptions() {
        return this.cascadeState.options.model;
    }

    get gradeOptions() {
        return this.cascadeState.options.grade;
    }

    get powertrainOptions() {
        return this.cascadeState.options.powertrain;
    }

    get showStorePicker() {
        return Boolean(this.board && this.board.stores && this.board.stores.length > 1);
    }

    get storeOptions() {
        return this.board.stores.map((s) => ({ label: s.label, value: s.value }));
    }

    get selectedStore() {
        return this.storeId || (this.board && this.board.storeId) || '';
    }

    get cars() {
        return matchingCars(this.board && this.board.cars, this.cascadeState.filters);
    }

    get view() {
        const open = parseTime(this.openingTime, DEFAULT_OPEN);
        const close = parseTime(this.closingTime, DEFAULT_CLOSE);
        const slot = Number(this.slotMinutes) > 0 ? Number(this.slotMinutes) : DEFAULT_SLOT;
        return {
            day: this.day,
            timeZone: this.timeZone,
            open,
            close: close > open ? close : DEFAULT_CLOSE,
            slotMinutes: slot,
            slotWidth: SLOT_WIDTH
        };
    }

    get timeline() {
        const view = this.view;
        const result = layout(this.cars, this.board.reservations, this.board.buffers, view);
        const zone = view.timeZone;
        const px = (n) => `${n}px`;
        return {
            style: `width: ${result.width}px`,
            header: result.header.map((h) => ({ ...h, style: `width: ${px(SLOT_WIDTH)}` })),
            rows: result.rows.map((row) => ({
                id: row.car.id,
                name: row.car.name,
                detail: [row.car.model, row.car.grade, this.powertrainLabels[row.car.powertrain]]
                    .filter((v) => v)
                    .join(' / '),
                slots: row.slots.map((s, i) => ({
                    key: s.key,
                    start: s.start,
                    end: s.end,
                    free: s.free,
                    className: s.free ? 'slot slot_free' : 'slot slot_busy',
                    style: `left: ${px(i * SLOT_WIDTH)}; width: ${px(SLOT_WIDTH)}`,
                    label: formatLabel(BOOK_SLOT, row.car.name, timeOf(s.start, zone))
                })),
                blocks: row.blocks.map((b) => {
                    const r = b.reservation;
                    const completed = r.status === STATUS_COMPLETED;
                    const status = completed ? STATUS_COMPLETED_LABEL : STATUS_SCHEDULED_LABEL;
                    const name = r.name || BOOKED;
                    return {
                        id: r.id,
                        name,
                        status,
                        className: completed ? 'block block_completed' : 'block',
                        style: `left: ${px(b.left)}; width: ${px(b.width)}`,
                        title: `${name} ${timeOf(r.start, zone)}-${timeOf(r.end, zone)} (${status})`
                    };
                }),
                shades: row.shades.map((s) => ({
                    key: s.key,
                    style: `left: ${px(s.left)}; width: ${px(s.width)}`
                })),
                trackStyle: `width: ${px(result.width)}`
            }))
        };
    }

    get hasRows() {
        return Boolean(this.board) && !this.error && this.cars.length > 0;
    }

    get isEmpty() {
        return Boolean(this.board) && !this.error && this.cars.length === 0;
    }

    get errorText() {
        return this.error ? `${LOAD_FAILED} ${errorMessage(this.error)}` : '';
    }

    handleStoreChange(event) {
        this.storeId = event.detail.value;
        this.brand = '';
        this.model = '';
        this.grade = '';
        this.powertrain = '';
    }

    handleFilterChange(event) {
        const next = {
            brand: this.brand,
            model: this.model,
            grade: this.grade,
            powertrain: this.powertrain,
            [event.target.name]: event.detail.value
        };
        // Levels below a changed one are re-checked against the narrower choice.
        const { filters } = cascade(this.board.cars, next, this.powertrainLabels, ALL);
        this.brand = filters.brand;
        this.model = filters.model;
        this.grade = filters.grade;
        this.powertrain = filters.powertrain;
    }

    handleDayChange(event) {
        if (event.detail.value) {
            this.day = event.detail.value;
        }
    }

    handlePreviousDay() {
        this.day = addDays(this.day, -1);
    }

    handleNextDay() {
        this.day = addDays(this.day, 1);
    }

    handleToday() {
        this.day = dayOf(Date.now(), USER_TIME_ZONE);
    }

    handleSlotClick(event) {
        const { vehicleId, start, end } = event.currentTarget.dataset;
        const cars = this.cars;
        this.booking = {
            vehicleId,
            cars,
            start: new Date(Number(start)).toISOString(),
            end: new Date(Number(end)).toISOString()
        };
    }

    get locations() {
        return this.board.locations || [];
    }

    handleFormClose() {
        this.booking = undefined;
    }

    handleSaved(event) {
        this.booking = undefined;
        this.dispatchEvent(
            new ShowToastEvent({ title: formatLabel(SAVED, event.detail.name), message: '', variant: 'success' })
        );
        return refreshApex(this.wiredResult);
    }
}
