from hub.testing import hub_cmd


def test_demo_ships_every_order_with_no_dead_jobs(tmp_path):
    out = hub_cmd("demo", "--orders", "12", "--exit", "--data-dir", str(tmp_path / "demo"),
                  data_dir=tmp_path, COLUMNS="120").stdout
    rows = {cells[1].strip(): cells[2].strip()
            for cells in (line.split("│") for line in out.splitlines()) if len(cells) == 4}
    assert rows["orders shipped"] == "12", out
    assert rows["dead jobs"] == "0", out
