import { LightningElement, api } from 'lwc';
import searchOpportunities from '@salesforce/apex/TestDriveBoardController.searchOpportunities';
import bookTestDrive from '@salesforce/apex/TestDriveBoardController.bookTestDrive';
import { errorMessage, formatLabel } from 'c/boardTimeline';

import NEW_BOOKING from '@salesforce/label/c.Test_Drive_Board_New_Booking';
import OPPORTUNITY from '@salesforce/label/c.Test_Drive_Board_Opportunity';
import SEARCH_HINT from '@salesforce/label/c.Test_Drive_Board_Search_Hint';
import NO_MATCH from '@salesforce/label/c.Test_Drive_Board_No_Match';
import NAME from '@salesforce/label/c.Test_Drive_Board_Name';
import NAME_SUGGESTION from '@salesforce/label/c.Test_Drive_Board_Name_Suggestion';
import START from '@salesforce/label/c.Test_Drive_Board_Start';
import END from '@salesforce/label/c.Test_Drive_Board_End';
import LOCATION from '@salesforce/label/c.Test_Drive_Board_Location';
import DEMO_CAR from '@salesforce/label/c.Test_Drive_Board_Demo_Car';
import ANY_FREE_CAR from '@salesforce/label/c.Test_Drive_Board_Any_Free_Car';
import SAVE from '@salesforce/label/c.Test_Drive_Board_Save';
import CANCEL from '@salesforce/label/c.Test_Drive_Board_Cancel';
import CHANGE from '@salesforce/label/c.Test_Drive_Board_Change_Opportunity';
import REQUIRED from '@salesforce/label/c.Test_Drive_Board_Required';
import END_AFTER_START from '@salesforce/label/c.Test_Drive_Board_End_After_Start';

const ANY_CAR = 'any';
const SEARCH_DELAY_MS = 300;
const MIN_SEARCH_LENGTH = 2;

export default class BoardBookingForm extends LightningElement {
    /** The car of the clicked row. */
    @api vehicleId;
    /** The cars matching the board's filters: {id, name, model, grade, powertrain}. */
    @api cars = [];
    /** ISO date-times of the clicked slot. */
    @api start;
    @api end;
    @api timeZone;
    /** Location picklist options {value, label}. */
    @api locations = [];

    labels = {
        title: NEW_BOOKING,
        opportunity: OPPORTUNITY,
        searchHint: SEARCH_HINT,
        noMatch: NO_MATCH,
        name: NAME,
        start: START,
        end: END,
        location: LOCATION,
        demoCar: DEMO_CAR,
        save: SAVE,
        cancel: CANCEL,
        change: CHANGE
    };

    term = '';
    matches = [];
    searched = false;
    opportunity;
    name = '';
    nameEdited = false;
    startValue;
    endValue;
    location;
    carChoice;
    errorText = '';
    saving = false;
    searchTimer;
    searchSeq = 0;

    connectedCallback() {
        this.startValue = this.start;
        this.endValue = this.end;
        this.carChoice = this.vehicleId;
        this.location = this.locations.length ? this.locations[0].value : undefined;
    }

    disconnectedCallback() {
        clearTimeout(this.searchTimer);
    }

    get showCarChoice() {
        return this.cars.length > 1;
    }

    get carOptions() {
        return [
            { label: formatLabel(ANY_FREE_CAR, this.cars.length), value: ANY_CAR },
            ...this.cars.map((c) => ({ label: c.name, value: c.id }))
        ];
    }

    get selectedCar() {
        return this.cars.find((c) => c.id === this.vehicleId) || this.cars[0];
    }

    /** The model for the suggested name: the chosen car's, or the one all candidates share. */
    get model() {
        if (this.carChoice !== ANY_CAR) {
            const car = this.cars.find((c) => c.id === this.carChoice);
            return car ? car.model : '';
        }
        const models = new Set(this.cars.map((c) => c.model));
        return models.size === 1 ? [...models][0] : (this.selectedCar && this.selectedCar.model) || '';
    }

    get showMatches() {
        return !this.opportunity && this.matches.length > 0;
    }

    get showNoMatch() {
        return !this.opportunity && this.searched && this.matches.length === 0;
    }

    handleSearch(event) {
        this.term = event.detail.value || '';
        clearTimeout(this.searchTimer);
        if (this.term.trim().length < MIN_SEARCH_LENGTH) {
            this.matches = [];
            this.searched = false;
            return;
        }
        const term = this.term.trim();
        // Wait until typing pauses so that every key press does not cost a server call.
        // eslint-disable-next-line @lwc/lwc/no-async-operation
        this.searchTimer = setTimeout(() => this.runSearch(term), SEARCH_DELAY_MS);
    }

    async runSearch(term) {
        const seq = ++this.searchSeq;
        try {
            const found = await searchOpportunities({ term });
            if (seq === this.searchSeq) {
                this.matches = (found || []).map((m) => ({
                    ...m,
                    display: m.customerName ? `${m.name} (${m.customerName})` : m.name
                }));
                this.searched = true;
            }
        } catch (error) {
            this.errorText = errorMessage(error);
        }
    }

    handlePick(event) {
        const id = event.currentTarget.dataset.id;
        this.opportunity = this.matches.find((m) => m.id === id);
        this.matches = [];
        this.suggestName();
    }

    handleClearOpportunity() {
        this.opportunity = undefined;
        this.term = '';
        this.searched = false;
    }

    suggestName() {
        if (this.opportunity && !this.nameEdited) {
            const customer = this.opportunity.customerName || this.opportunity.name;
            this.name = formatLabel(NAME_SUGGESTION, customer, this.model);
        }
    }

    handleNameChange(event) {
        this.name = event.detail.value;
        this.nameEdited = true;
    }

    handleStartChange(event) {
        const previous = Date.parse(this.startValue);
        this.startValue = event.detail.value;
        // Moving the start keeps the length of the booking.
        const moved = Date.parse(this.startValue);
        const end = Date.parse(this.endValue);
        if (!Number.isNaN(moved) && !Number.isNaN(previous) && !Number.isNaN(end)) {
            this.endValue = new Date(end + (moved - previous)).toISOString();
        }
    }

    handleEndChange(event) {
        this.endValue = event.detail.value;
    }

    handleLocationChange(event) {
        this.location = event.detail.value;
    }

    handleCarChange(event) {
        this.carChoice = event.detail.value;
        this.suggestName();
    }

    validate() {
        if (!this.opportunity || !this.name.trim() || !this.startValue || !this.endValue) {
            return REQUIRED;
        }
        if (Date.parse(this.endValue) <= Date.parse(this.startValue)) {
            return END_AFTER_START;
        }
        return '';
    }

    async handleSave() {
        this.errorText = this.validate();
        if (this.errorText) {
            return;
        }
        // "Any free car": the clicked car first, then the others; the server takes the first free one.
        const vehicleIds =
            this.carChoice === ANY_CAR
                ? [this.vehicleId, ...this.cars.map((c) => c.id).filter((id) => id !== this.vehicleId)]
                : [this.carChoice];
        this.saving = true;
        try {
            const id = await bookTestDrive({
                request: {
                    opportunityId: this.opportunity.id,
                    name: this.name.trim(),
                    startTime: this.startValue,
                    endTime: this.endValue,
                    location: this.location,
                    vehicleIds
                }
            });
            this.dispatchEvent(new CustomEvent('saved', { detail: { id, name: this.name.trim() } }));
        } catch (error) {
            // The guard's message says which booking is in the way; the form stays open.
            this.errorText = errorMessage(error);
        } finally {
            this.saving = false;
        }
    }

    handleCancel() {
        this.dispatchEvent(new CustomEvent('close'));
    }

    handleKeydown(event) {
        if (event.key === 'Escape') {
            this.handleCancel();
        }
    }
}
