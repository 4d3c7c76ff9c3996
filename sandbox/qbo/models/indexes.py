"""Name indexes of a realm: DisplayName → owner across Customer, Vendor and Employee (unique across the three), and
Item names. Built on first use, kept up to date as records are stored, dropped when the realm changes wholesale."""
from __future__ import annotations

from ..exceptions import DuplicateName
from .base import Realm, Record, norm_name


class NameIndex:
    """Name → (entity, Id) over ``entities``, by ``field``, as QBO compares names (``norm_name``)."""

    def __init__(self, realm: Realm, entities: tuple[str, ...], field: str) -> None:
        self.realm = realm
        self.entities = entities
        self.field = field
        self._index: dict[str, tuple[str, str]] | None = None

    def _build(self) -> dict[str, tuple[str, str]]:
        if self._index is None:
            index: dict[str, tuple[str, str]] = {}
            for entity in self.entities:
                for record in self.realm.all(entity).values():
                    index[norm_name(record[self.field])] = (entity, record["Id"])
            self._index = index
        return self._index

    def invalidate(self) -> None:
        self._index = None

    def find(self, name: str) -> tuple[str, str] | None:
        return self._build().get(norm_name(name))

    def check_unique(self, name: str, entity: str, own_id: str | None) -> None:
        owner = self.find(name)
        # Inactive records keep their names (undocumented; the stricter reading).
        if owner is not None and owner != (entity, own_id):
            detail = DuplicateName.ITEM_DETAIL if entity == "Item" else DuplicateName.CUSTOMER_DETAIL
            raise DuplicateName(detail)

    def update(self, entity: str, record: Record, previous: Record | None) -> None:
        index = self._build()
        if previous is not None:
            old = norm_name(previous[self.field])
            if index.get(old) == (entity, previous["Id"]):
                del index[old]
        index[norm_name(record[self.field])] = (entity, record["Id"])
