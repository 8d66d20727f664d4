// Preview stand-in for lightning-button-icon (the chevrons only).
import { LightningElement, api } from 'lwc';

const GLYPHS = { 'utility:chevronleft': '‹', 'utility:chevronright': '›' };

export default class ButtonIcon extends LightningElement {
    @api iconName;
    @api alternativeText;
    @api title;

    get glyph() {
        return GLYPHS[this.iconName] || '•';
    }
}
