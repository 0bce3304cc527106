from hub.store.models import Order


def test_an_order_is_confirmed_by_its_jobs_on_each_database(any_hub, make_order, run_jobs):
    order_id = make_order(any_hub)
    assert run_jobs(any_hub) >= 2
    with any_hub.db.read() as session:
        assert session.get(Order, order_id).status == "confirmed"
