"""`free_slots` and `create_event`: a calendar over CalDAV (client: `caldav`, Apache-2.0).

`free_slots` reads the events of a window (recurrences expanded) and returns the slots of the
asked length that overlap none of them, within working hours. `create_event` writes one
VEVENT whose UID is made from the idempotency key (`cairn-<key>`): before writing it looks the
UID up, so a call repeated under one key (a resume after a crash) finds the event it made and
creates nothing. A dry run returns the iCalendar text it would store.

`caldav` is an optional dependency: `pip install 'cairn[agent]'`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from cairn.agent.mail import Address
from cairn.agent.tools import FunctionTool, ToolError
from cairn.errors import ConfigError


def _caldav() -> Any:
    try:
        return importlib.import_module("caldav")
    except ImportError:
        raise ConfigError(
            "the calendar tools need the caldav client: pip install 'cairn[agent]'"
        ) from None


@dataclass(frozen=True, kw_only=True, slots=True)
class CalDAVConfig:
    url: str
    """The calendar collection, e.g. http://127.0.0.1:5232/alice/work/."""
    username: str | None = None
    password: str | None = None
    timeout_s: float = 20.0


class SlotsIn(BaseModel):
    start: AwareDatetime = Field(description="Window start, ISO 8601 with a UTC offset.")
    end: AwareDatetime = Field(description="Window end, ISO 8601 with a UTC offset.")
    duration_minutes: int = Field(30, ge=5, le=480)
    step_minutes: int = Field(30, ge=5, le=240, description="Slots start on this grid.")
    day_start_hour: int = Field(9, ge=0, le=23, description="Working hours start (local).")
    day_end_hour: int = Field(17, ge=1, le=24, description="Working hours end (local).")
    max_slots: int = Field(10, ge=1, le=50)

    @model_validator(mode="after")
    def _ordered(self) -> SlotsIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > timedelta(days=31):
            raise ValueError("the window may span at most 31 days")
        if self.day_end_hour <= self.day_start_hour:
            raise ValueError("day_end_hour must be after day_start_hour")
        return self


class Slot(BaseModel):
    start: datetime
    end: datetime


class SlotsOut(BaseModel):
    slots: list[Slot]
    busy: list[Slot]


class EventIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    attendees: list[Address] = Field(default_factory=list, max_length=50)
    description: str = Field("", max_length=10_000)
    location: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> EventIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class EventOut(BaseModel):
    uid: str
    created: bool
    """False on a dry run, or when this key's event already existed."""
    dry_run: bool = False
    ics: str
    """The event as iCalendar text (attach it to an invitation)."""


def _calendar(config: CalDAVConfig) -> Any:
    caldav = _caldav()
    client = caldav.DAVClient(
        url=config.url, username=config.username, password=config.password,
        timeout=config.timeout_s,
    )  # fmt: skip
    return client.calendar(url=config.url)


def _as_datetime(value: Any, tz: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    return datetime(value.year, value.month, value.day, tzinfo=tz)  # an all-day event


def busy_intervals(
    calendar: Any, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The [start, end) of every event overlapping the window, recurrences expanded."""
    found = calendar.search(event=True, start=start, end=end, expand=True)
    busy = []
    for event in found:
        for comp in event.icalendar_instance.walk("VEVENT"):
            s = _as_datetime(comp.decoded("DTSTART"), start.tzinfo)
            if "DTEND" in comp:
                e = _as_datetime(comp.decoded("DTEND"), start.tzinfo)
            elif "DURATION" in comp:
                e = s + comp.decoded("DURATION")
            else:
                e = s + (timedelta(days=1) if not isinstance(comp.decoded("DTSTART"), datetime)
                         else timedelta(0))  # fmt: skip
            if s < end and e > start:
                busy.append((s, e))
    return sorted(busy)


def free_slots_in(
    args: SlotsIn, busy: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Slots of `duration_minutes` on the `step_minutes` grid, inside working hours (in the
    window's own UTC offset) and overlapping no busy interval."""
    length = timedelta(minutes=args.duration_minutes)
    step = timedelta(minutes=args.step_minutes)
    t = args.start
    out: list[tuple[datetime, datetime]] = []
    while t + length <= args.end and len(out) < args.max_slots:
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        opens = day + timedelta(hours=args.day_start_hour)
        closes = day + timedelta(hours=args.day_end_hour)
        if t < opens:
            t = opens
            continue
        if t + length > closes:
            t = day + timedelta(days=1, hours=args.day_start_hour)
            continue
        clash = next((e for s, e in busy if s < t + length and e > t), None)
        if clash is None:
            out.append((t, t + length))
            t += step
        else:  # jump to the first grid point at or after the clash ends
            gap = clash - t
            t += step * max(1, -(-gap // step))
    return out


def free_slots(config: CalDAVConfig) -> FunctionTool:
    def run(args: SlotsIn, key: str, dry_run: bool) -> SlotsOut:
        try:
            busy = busy_intervals(_calendar(config), args.start, args.end)
        except ConfigError:
            raise
        except Exception as exc:
            raise ToolError(f"could not read the calendar at {config.url}: {exc}") from None
        return SlotsOut(
            slots=[Slot(start=s, end=e) for s, e in free_slots_in(args, busy)],
            busy=[Slot(start=s, end=e) for s, e in busy],
        )

    return FunctionTool(
        name="free_slots",
        description="Find free time slots in the calendar between two times.",
        input_model=SlotsIn,
        output_model=SlotsOut,
        fn=run,
        scopes=("calendar:read",),
    )


def event_ics(args: EventIn, uid: str, organizer: str | None = None) -> str:
    from icalendar import Calendar, Event, vCalAddress

    cal = Calendar()
    cal.add("prodid", "-//cairn//agent//EN")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    ev = Event()
    ev.add("uid", uid)
    ev.add("dtstamp", datetime.now(UTC))
    ev.add("dtstart", args.start)
    ev.add("dtend", args.end)
    ev.add("summary", args.title)
    if args.description:
        ev.add("description", args.description)
    if args.location:
        ev.add("location", args.location)
    if organizer:
        ev.add("organizer", vCalAddress(f"mailto:{organizer}"))
    for a in args.attendees:
        ev.add("attendee", vCalAddress(f"mailto:{a}"))
    cal.add_component(ev)
    return str(cal.to_ical().decode())


def create_event(config: CalDAVConfig, *, organizer: str | None = None) -> FunctionTool:
    def run(args: EventIn, key: str, dry_run: bool) -> EventOut:
        uid = f"cairn-{key}"
        ics = event_ics(args, uid, organizer)
        if dry_run:
            return EventOut(uid=uid, created=False, dry_run=True, ics=ics)
        caldav = _caldav()
        try:
            calendar = _calendar(config)
            try:
                calendar.event_by_uid(uid)
                return EventOut(uid=uid, created=False, ics=ics)  # made by this key before
            except caldav.lib.error.NotFoundError:
                pass
            # the server stores METHOD-less objects; the invitation keeps METHOD:REQUEST
            calendar.save_event(ics.replace("METHOD:REQUEST\r\n", ""))
        except Exception as exc:
            raise ToolError(f"could not create the event at {config.url}: {exc}") from None
        return EventOut(uid=uid, created=True, ics=ics)

    return FunctionTool(
        name="create_event",
        description="Create a calendar event (returns its iCalendar text for invitations).",
        input_model=EventIn,
        output_model=EventOut,
        fn=run,
        side_effect="external",
        idempotent=True,
        supports_dry_run=True,
        scopes=("calendar:write",),
    )
