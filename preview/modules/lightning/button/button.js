// Preview stand-in for lightning-button.
import { LightningElement, api } from 'lwc';

export default class Button extends LightningElement {
    @api label;
    @api variant = 'neutral';
    @api disabled = false;
    @api title;

    get className() {
        return `button button_${this.variant}`;
    }
}
