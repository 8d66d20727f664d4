import { createElement } from 'lwc';
import TestDriveBoard from 'c/testDriveBoard';
import { org, TODAY, LANG } from './state';

const realNow = Date.now.bind(Date);
// The board opens on "today"; with ?day= the preview's today is that day.
const shift = Date.parse(`${TODAY}T03:00:00.000Z`) - realNow();
if (new URLSearchParams(window.location.search).has('day')) {
    Date.now = () => realNow() + shift;
}

document.documentElement.lang = LANG;
org();
const board = createElement('c-test-drive-board', { is: TestDriveBoard });
board.openingTime = '09:00';
board.closingTime = '19:00';
board.slotMinutes = 30;
board.addEventListener('lightning__showtoast', (event) => {
    const toast = document.getElementById('toast');
    toast.textContent = event.detail.title;
    toast.hidden = false;
    setTimeout(() => {
        toast.hidden = true;
    }, 4000);
});
document.getElementById('main').appendChild(board);
