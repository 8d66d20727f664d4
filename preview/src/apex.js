// Stand-ins for '@salesforce/apex/...' imports: a wire adapter for the cacheable getBoard and
// promise-returning functions for the imperative calls, all answered by the mock org.
import { org } from './state';

const LATENCY_MS = 120;
const live = new Set();

function later(fn) {
    return new Promise((resolve, reject) => {
        setTimeout(() => {
            try {
                resolve(fn());
            } catch (error) {
                // The shape Lightning gives an AuraHandledException.
                reject({ status: 400, body: { message: error.message } });
            }
        }, LATENCY_MS);
    });
}

class BoardAdapter {
    constructor(dataCallback) {
        this.dataCallback = dataCallback;
        this.config = undefined;
    }

    connect() {
        live.add(this);
    }

    disconnect() {
        live.delete(this);
    }

    update(config) {
        this.config = config;
        this.emit();
    }

    emit() {
        const config = this.config;
        return later(() => org().getBoard(config)).then(
            (data) => this.dataCallback({ data: JSON.parse(JSON.stringify(data)), error: undefined }),
            (error) => this.dataCallback({ data: undefined, error })
        );
    }
}

export function getBoard(config) {
    return later(() => org().getBoard(config));
}
getBoard.adapter = BoardAdapter;

export function searchOpportunities(params) {
    return later(() => org().searchOpportunities(params));
}

export function bookTestDrive(params) {
    return later(() => org().bookTestDrive(params));
}

/** Like refreshApex: every live wire asks again. */
export function refreshApex() {
    return Promise.all([...live].map((adapter) => adapter.emit()));
}
