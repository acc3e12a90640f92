// "My chats": every room I am in, kept live. No DOM: the api is injected.

import { Emitter } from './emitter.js';
import { fresher } from '../lists.js';
import { applyRoomEvent, compareRooms, markedRead, unreadTotal } from '../rooms.js';

export class ChatsStore extends Emitter {
  /**
   * api.listRooms() answers all my rooms (expanded participants and post);
   * api.markRead(roomId) marks one read.
   */
  constructor(api, myId) {
    super();
    this.api = api;
    this.myId = myId;
    this.rooms = [];
    this.loaded = false;
    this.error = null;
    this.version = 0;
  }

  /**
   * load fetches every room. It is also the catch-up after a reconnect:
   * the answer replaces the list, except that a live event which arrived
   * while the request ran (a newer copy, or a room created meanwhile) wins.
   */
  async load() {
    const started = this.version;
    try {
      const fresh = await this.api.listRooms();
      const current = new Map(this.rooms.map((r) => [r.id, r]));
      const changedMeanwhile = this.version !== started;
      const next = fresh.map((r) => fresher(current.get(r.id), r));
      if (changedMeanwhile) {
        const freshIds = new Set(fresh.map((r) => r.id));
        for (const r of this.rooms) if (!freshIds.has(r.id) && r.arrivedAt > started) next.push(r);
      }
      this.rooms = next.sort(compareRooms);
      this.loaded = true;
      this.error = null;
    } catch (err) {
      this.error = err;
    }
    this.emit();
  }

  /** onEvent applies a realtime rooms event. */
  onEvent(event) {
    this.version++;
    const record = { ...event.record, arrivedAt: this.version };
    this.rooms = applyRoomEvent(this.rooms, { action: event.action, record }, this.myId);
    this.emit();
  }

  /** get is my room with id, or undefined. */
  get(id) {
    return this.rooms.find((r) => r.id === id);
  }

  /** put adds or refreshes one room (the chat button's answer, say). */
  put(room) {
    this.onEvent({ action: 'update', record: room });
  }

  /** remove drops a room I left. */
  remove(id) {
    this.version++;
    this.rooms = this.rooms.filter((r) => r.id !== id);
    this.emit();
  }

  get unread() {
    return unreadTotal(this.rooms);
  }

  /** markRead shows the room read at once and tells the server. */
  async markRead(roomId) {
    this.rooms = markedRead(this.rooms, roomId);
    this.emit();
    await this.api.markRead(roomId);
  }
}
