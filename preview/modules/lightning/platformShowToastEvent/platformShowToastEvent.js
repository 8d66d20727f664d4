// Preview stand-in for lightning/platformShowToastEvent: the page listens for the event.
export class ShowToastEvent extends CustomEvent {
    constructor(toast) {
        super('lightning__showtoast', { bubbles: true, composed: true, detail: toast });
    }
}
