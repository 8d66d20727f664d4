// The preview's stand-in for the org: demo cars and reservations of one store around one day,
// and the three Apex methods of TestDriveBoardController working on them in memory.
// The Chromium test reads window.__previewOrg to know where each booking must be drawn.

const MINUTE = 60000;
export const TIME_ZONE = 'Asia/Tokyo';
const OFFSET_MINUTES = 9 * 60; // Asia/Tokyo has no summer time

const STORES = [
    { value: 'a01PREVIEW0000001', label: '新宿店' },
    { value: 'a01PREVIEW0000002', label: '横浜店' }
];

const CARS = [
    ['a02PREVIEW0000001', 'プリウス Z #1', 'Toyota', 'Prius', 'Z', 'Hybrid'],
    ['a02PREVIEW0000002', 'プリウス Z #2', 'Toyota', 'Prius', 'Z', 'Hybrid'],
    ['a02PREVIEW0000003', 'プリウス G PHEV', 'Toyota', 'Prius', 'G', 'Plug_in_Hybrid'],
    ['a02PREVIEW0000004', 'bZ4X Z', 'Toyota', 'bZ4X', 'Z', 'Electric'],
    ['a02PREVIEW0000005', 'リーフ G', 'Nissan', 'Leaf', 'G', 'Electric'],
    ['a02PREVIEW0000006', 'ノート X', 'Nissan', 'Note', 'X', 'Hybrid']
].map(([id, name, brand, model, grade, powertrain], i) => ({
    id,
    name,
    brand,
    model,
    grade,
    powertrain,
    plate: `品川 300 あ ${1001 + i}`,
    storeId: STORES[0].value
}));

const OPPORTUNITIES = [
    { id: '006PREVIEW0000001', name: '山田 新車購入', customerName: '山田太郎' },
    { id: '006PREVIEW0000002', name: '山本 乗り換え', customerName: '山本花子' },
    { id: '006PREVIEW0000003', name: '佐藤 EV検討', customerName: '佐藤一郎' },
    { id: '006PREVIEW0000004', name: '鈴木 法人車両', customerName: null }
];

const BUFFERS = { Electric: 30 };
const POWERTRAINS = [
    { value: 'Gasoline', label: 'ガソリン' },
    { value: 'Diesel', label: 'ディーゼル' },
    { value: 'Hybrid', label: 'ハイブリッド' },
    { value: 'Plug_in_Hybrid', label: 'プラグインハイブリッド' },
    { value: 'Electric', label: '電気自動車' }
];
const LOCATIONS = [
    { value: 'Showroom', label: '店舗' },
    { value: 'Customer_Home', label: 'お客様宅' },
    { value: 'Other', label: 'その他' }
];

/** The UTC ISO string of HH:mm on `day` in Tokyo. */
function tokyo(day, hhmm) {
    const [y, m, d] = day.split('-').map(Number);
    const [h, mi] = hhmm.split(':').map(Number);
    return new Date(Date.UTC(y, m - 1, d, h, mi) - OFFSET_MINUTES * MINUTE).toISOString();
}

export function todayInTokyo(now = Date.now()) {
    return new Date(now + OFFSET_MINUTES * MINUTE).toISOString().slice(0, 10);
}

/** The day's bookings (cancelled one included: the board must hide it). */
function seed(day) {
    const rows = [
        ['1', '山田様Priusモデル試乗', 0, '10:00', '11:00', 'Scheduled', 0],
        ['2', '佐藤様Priusモデル試乗', 0, '14:30', '15:30', 'Completed', 2],
        ['3', '鈴木様Priusモデル試乗', 0, '12:00', '13:00', 'Cancelled', 3],
        ['4', '山本様Priusモデル試乗', 1, '09:30', '10:30', 'Scheduled', 1],
        ['5', '高橋様bZ4Xモデル試乗', 3, '11:00', '12:00', 'Scheduled', 2],
        ['6', '伊藤様bZ4Xモデル試乗', 3, '16:00', '17:00', 'Scheduled', 0],
        ['7', '渡辺様Leafモデル試乗', 4, '13:15', '14:00', 'Scheduled', 1],
        ['8', '中村様Noteモデル試乗', 5, '17:30', '18:30', 'Completed', 3],
        ['9', '小林様Priusモデル試乗', 2, '15:00', '16:30', 'Scheduled', 0]
    ];
    return rows.map(([n, name, car, from, to, status, opp]) => ({
        id: `a03PREVIEW000000${n}`,
        name,
        vehicleId: CARS[car].id,
        startTime: tokyo(day, from),
        endTime: tokyo(day, to),
        status,
        opportunityName: OPPORTUNITIES[opp].name
    }));
}

export function createOrg(day) {
    const org = {
        day,
        timeZone: TIME_ZONE,
        cars: CARS,
        reservations: seed(day),
        buffers: BUFFERS,
        calls: { getBoard: 0, searchOpportunities: 0, bookTestDrive: 0 }
    };

    org.getBoard = ({ day: askedDay, storeId, brand, model, grade, powertrain }) => {
        org.calls.getBoard++;
        const store = storeId || STORES[0].value;
        const cars = CARS.filter((c) => c.storeId === store);
        const matching = new Set(
            cars
                .filter(
                    (c) =>
                        (!brand || c.brand === brand) &&
                        (!model || c.model === model) &&
                        (!grade || c.grade === grade) &&
                        (!powertrain || c.powertrain === powertrain)
                )
                .map((c) => c.id)
        );
        const from = Date.parse(tokyo(askedDay, '00:00')) - 30 * MINUTE;
        const to = Date.parse(tokyo(askedDay, '00:00')) + 24 * 60 * MINUTE;
        return {
            storeId: store,
            day: askedDay,
            timeZone: TIME_ZONE,
            stores: STORES,
            cars: cars.map(({ storeId: ignored, ...car }) => car),
            reservations: org.reservations.filter(
                (r) =>
                    matching.has(r.vehicleId) &&
                    r.status !== 'Cancelled' &&
                    Date.parse(r.startTime) < to &&
                    Date.parse(r.endTime) > from
            ),
            buffers: BUFFERS,
            powertrains: POWERTRAINS,
            locations: LOCATIONS
        };
    };

    org.searchOpportunities = ({ term }) => {
        org.calls.searchOpportunities++;
        const t = (term || '').trim().toLowerCase();
        return t.length < 2 ? [] : OPPORTUNITIES.filter((o) => o.name.toLowerCase().includes(t));
    };

    const conflict = (carId, start, end) => {
        const car = CARS.find((c) => c.id === carId);
        const buffer = (BUFFERS[car.powertrain] || 0) * MINUTE;
        return org.reservations.find(
            (r) =>
                r.vehicleId === carId &&
                r.status !== 'Cancelled' &&
                Date.parse(r.startTime) < end + buffer &&
                start < Date.parse(r.endTime) + buffer
        );
    };

    // Same rule and message shape as the Apex guard (the Japanese label).
    org.bookTestDrive = ({ request }) => {
        org.calls.bookTestDrive++;
        const start = Date.parse(request.startTime);
        const end = Date.parse(request.endTime);
        let carId = request.vehicleIds[0];
        if (request.vehicleIds.length > 1) {
            carId = request.vehicleIds.find((id) => !conflict(id, start, end));
            if (!carId) {
                throw new Error('条件に合う試乗車で、この時間帯(準備時間を含む)に空いているものはありません。');
            }
        }
        const other = conflict(carId, start, end);
        if (other) {
            const fmt = (iso) =>
                new Date(Date.parse(iso) + OFFSET_MINUTES * MINUTE)
                    .toISOString()
                    .slice(0, 16)
                    .replace('T', ' ')
                    .replace(/-/g, '/');
            throw new Error(
                `この試乗車は予約「${other.name}」(${fmt(other.startTime)}〜${fmt(other.endTime)}、${TIME_ZONE})で予約済みです。`
            );
        }
        const id = `a03PREVIEW1${String(org.reservations.length).padStart(6, '0')}`;
        org.reservations.push({
            id,
            name: request.name,
            vehicleId: carId,
            startTime: new Date(start).toISOString(),
            endTime: new Date(end).toISOString(),
            status: 'Scheduled',
            opportunityName: (OPPORTUNITIES.find((o) => o.id === request.opportunityId) || {}).name
        });
        return id;
    };
    return org;
}
