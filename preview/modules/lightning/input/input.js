// Preview stand-in for lightning-input (text, search, date, datetime). Like the real one, a
// datetime's value is an ISO instant shown in `timezone`, and change fires {detail: {value}}.
import { LightningElement, api } from 'lwc';
import { timeOf, dayOf, zonedEpoch, parseTime } from 'c/boardTimeline';

let seq = 0;

export default class Input extends LightningElement {
    @api label;
    @api name;
    @api type = 'text';
    @api value = '';
    @api placeholder;
    @api required = false;
    @api disabled = false;
    @api timezone;
    @api maxLength;
    @api autocomplete;
    @api variant;
    inputId = `in-${++seq}`;

    get nativeType() {
        if (this.type === 'datetime') {
            return 'datetime-local';
        }
        return ['date', 'search'].includes(this.type) ? this.type : 'text';
    }

    get zone() {
        return this.timezone || 'Asia/Tokyo';
    }

    get shownValue() {
        if (this.type === 'datetime') {
            const epoch = Date.parse(this.value);
            return Number.isNaN(epoch) ? '' : `${dayOf(epoch, this.zone)}T${timeOf(epoch, this.zone)}`;
        }
        return this.value || '';
    }

    emit(raw) {
        let value = raw;
        if (this.type === 'datetime') {
            const [day, time] = raw.split('T');
            value = day && time ? new Date(zonedEpoch(day, parseTime(time, 0), this.zone)).toISOString() : '';
        }
        this.value = value;
        this.dispatchEvent(new CustomEvent('change', { detail: { value } }));
    }

    handleInput(event) {
        event.stopPropagation();
        if (this.type === 'text' || this.type === 'search') {
            this.emit(event.target.value);
        }
    }

    handleChange(event) {
        event.stopPropagation();
        if (this.type !== 'text' && this.type !== 'search') {
            this.emit(event.target.value);
        }
    }
}
