/// Valid record bodies of every kind (an observation, a situation, a warning, a participant), as
/// the network's tools write them: the fixtures of the record, console and export tests.
public enum SampleRecords {
    public static let informant = "Imam Y., phone +249 555 0100"

    public static let observation = #"""
        {
          "schema_version": 1,
          "report_kind": "incident",
          "event_date": "2026-03-01",
          "time_precision": 1,
          "event_type": "Violence against civilians",
          "sub_event_type": "Attack",
          "actor1": {"name": "Unidentified armed group", "inter": 3, "associated": ["Local militia"]},
          "actor2": {"name": "Civilians (Sudan)", "inter": 7},
          "fatalities": {"count": 12, "text": "dozens", "disputed": true},
          "location": {"country": "SD", "admin1": "SD-DN", "admin1_name": "North Darfur", "admin2": "El Fasher",
                       "place": "Abu Shouk camp", "latitude": 13.6517, "longitude": 25.3469, "accuracy_m": 25,
                       "geo_precision": 1},
          "thematic_sector": "security_and_violent_extremism",
          "risk_factors": [1, 7, 9],
          "indicators": ["7.6", "9.1"],
          "crime_category_hint": "genocide",
          "hate_speech_observed": true,
          "observation_mode": "witness_account",
          "source_scale": "local",
          "source_protection": {"informant_anonymous": true, "informant_consent": true,
                                "informant_ref": "Imam Y., phone +249 555 0100"},
          "notes": "Armed men on motorbikes attacked the market at dawn, \"several\" shelters burned.",
          "attachments": [{"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                           "filename": "market.jpg", "mime": "image/jpeg", "size_bytes": 183204,
                           "role": "evidentiary_original"}],
          "custom_tag": {"kept": [1, 2, 3]}
        }
        """#

    public static let situation = #"""
        {
          "schema_version": 1,
          "title": "North Darfur, March 2026",
          "area": {"country": "SD", "admin1": "SD-DN"},
          "period_start": "2026-03-01",
          "period_end": "2026-03-31",
          "dynamic_analysis": "Attacks on camps are rising.",
          "risk_factors": [
            {"risk_factor": 7, "indicators_present": ["7.6"], "trend": "increasing", "confidence": "medium",
             "observation_ids": ["obs-1", "obs-2"]},
            {"risk_factor": 9, "indicators_present": [], "trend": "stable", "confidence": "low"}
          ],
          "linked_observations": ["obs-1", "obs-2"],
          "scenarios": [{"name": "Escalation", "description": "Further attacks on camps", "likelihood": "high"}],
          "response_options": [{"action": "Deploy monitors", "by": "AU", "timeframe": "2 weeks"}],
          "overall_risk_level": "high"
        }
        """#

    public static let warning = #"""
        {
          "schema_version": 1,
          "title": "Imminent attack on Abu Shouk camp",
          "area": {"country": "SD", "admin1": "SD-DN"},
          "status": "issued",
          "urgency": "immediate",
          "severity": "extreme",
          "issued_at": "2026-03-02T06:00:00Z",
          "expires_at": "2026-03-09T06:00:00+03:00",
          "situation_id": "sit-1",
          "evidence": ["obs-1"],
          "risk_factors": [8],
          "indicators": ["8.7"],
          "product_type": "quick_update",
          "recommended_responses": [{"action": "Alert camp protection committee", "by": "NGO-A"}],
          "recipients": {
            "ngo-a": {"focal_point": "A. Musa", "acknowledged_at": "2026-03-02T06:30:00Z", "acknowledged_by": "A. Musa",
                      "response": {"action_taken": "Patrol organised", "at": "2026-03-02T09:00:00Z", "outcome": "calm"}},
            "un-ocha": {}
          }
        }
        """#

    public static let participant = #"""
        {
          "schema_version": 1,
          "name": "West Africa Network for Peacebuilding",
          "short_name": "WANEP",
          "kind": "ngo",
          "status": "active",
          "countries": ["GH", "NG", "SD"],
          "joined_on": "2020-01-15",
          "focal_points": [
            {"name": "A. Musa", "roles": ["focal_point", "analyst"],
             "contacts": [{"channel": "signal", "value": "+233 555 0101"}], "regions": ["GH", "SD-DN"]}
          ]
        }
        """#
}
