import { createOrg, todayInTokyo } from './mockOrg';

const params = new URLSearchParams(window.location.search);
// ?day=YYYY-MM-DD pins "today" (the Chromium test does); otherwise the real today in Tokyo.
export const TODAY = params.get('day') || todayInTokyo();
export const LANG = params.get('lang') === 'en' ? 'en' : 'ja';

let current;
export function org() {
    if (!current) {
        current = createOrg(TODAY);
        window.__previewOrg = current;
    }
    return current;
}
