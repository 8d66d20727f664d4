// Preview stand-in for lightning-combobox: a labelled native <select> firing change {detail: {value}}.
import { LightningElement, api } from 'lwc';

let seq = 0;

export default class Combobox extends LightningElement {
    @api label;
    @api name;
    @api value = '';
    @api options = [];
    @api disabled = false;
    @api placeholder;
    inputId = `cb-${++seq}`;

    get items() {
        return (this.options || []).map((o) => ({ ...o, selected: o.value === this.value }));
    }

    handleChange(event) {
        event.stopPropagation();
        this.value = event.target.value;
        this.dispatchEvent(new CustomEvent('change', { detail: { value: this.value } }));
    }
}
