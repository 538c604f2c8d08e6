// Schedules: weekly windows in an IANA time zone, daylight saving included
// (DESIGN.md: a rule outside every window does not match).
import { WEEKDAYS, type Weekday } from './model.js';

const TIME = /^(?:([01][0-9]|2[0-3]):([0-5][0-9])|24:00)$/;

/** Minutes after midnight for "HH:MM" (24:00 allowed), else undefined. */
export function parseClock(text: string): number | undefined {
  const m = TIME.exec(text);
  if (m === null) return undefined;
  if (text === '24:00') return 1440;
  return Number(m[1]) * 60 + Number(m[2]);
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function dayMask(days: readonly Weekday[]): number {
  let mask = 0;
  for (const d of days) mask |= 1 << WEEKDAYS.indexOf(d);
  return mask;
}

export interface LocalTime {
  /** 0 = Sunday .. 6 = Saturday */
  readonly weekday: number;
  readonly minuteOfDay: number;
}

const SHORT_DAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/**
 * Local weekday and minute of day in one time zone. The formatter is built once
 * per zone and the result is cached per UTC minute (zone offsets are whole
 * minutes), so a request costs a comparison, not a formatting.
 */
export class ZoneClock {
  private readonly format: Intl.DateTimeFormat;
  private cachedMinute = Number.NaN;
  private cached: LocalTime = { weekday: 0, minuteOfDay: 0 };

  constructor(readonly zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
  }

  at(epochMs: number): LocalTime {
    const minute = Math.floor(epochMs / 60_000);
    if (minute !== this.cachedMinute) {
      let weekday = 0;
      let hour = 0;
      let min = 0;
      for (const part of this.format.formatToParts(minute * 60_000)) {
        if (part.type === 'weekday') weekday = SHORT_DAYS[part.value] ?? 0;
        else if (part.type === 'hour') hour = Number(part.value);
        else if (part.type === 'minute') min = Number(part.value);
      }
      this.cached = { weekday, minuteOfDay: hour * 60 + min };
      this.cachedMinute = minute;
    }
    return this.cached;
  }
}

export interface WindowSpec {
  readonly days: number;
  readonly startMinute: number;
  readonly endMinute: number;
}

export function inWindows(local: LocalTime, windows: readonly WindowSpec[]): boolean {
  for (const w of windows) {
    if ((w.days & (1 << local.weekday)) !== 0 && local.minuteOfDay >= w.startMinute && local.minuteOfDay < w.endMinute) return true;
  }
  return false;
}
