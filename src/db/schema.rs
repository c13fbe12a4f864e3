//! The one schema both backends share: text ids, bigint, double, bool and timestamps only.

diesel::table! {
    organisations (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        time_zone -> Text,
        created_at -> Timestamp,
        bbox_min_lat -> Nullable<Double>,
        bbox_min_lon -> Nullable<Double>,
        bbox_max_lat -> Nullable<Double>,
        bbox_max_lon -> Nullable<Double>,
        suppression_k -> Integer,
        assignment_title -> Text,
        responsible -> Text,
        areas_version -> BigInt,
    }
}

diesel::table! {
    areas (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        code -> Text,
        name -> Text,
        parent_code -> Nullable<Text>,
        geometry -> Text,
        outline -> Text,
        min_lon -> Double,
        min_lat -> Double,
        max_lon -> Double,
        max_lat -> Double,
        vertices -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        server_seq -> BigInt,
    }
}

diesel::table! {
    area_jobs (id) {
        id -> Text,
        organisation_id -> Text,
        state -> Text,
        total -> BigInt,
        done -> BigInt,
        changed -> BigInt,
        last_table -> Nullable<Text>,
        last_id -> Nullable<Text>,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    partner_areas (organisation_id, user_id, area_code) {
        organisation_id -> Text,
        user_id -> Text,
        area_code -> Text,
    }
}

diesel::table! {
    units (id) {
        id -> Text,
        organisation_id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
        server_seq -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organisation_id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        unit_id -> Nullable<Text>,
        token_generation -> BigInt,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        scope_version -> BigInt,
    }
}

diesel::table! {
    devices (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        user_id -> Text,
        name -> Text,
        token_generation -> BigInt,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        last_push_at -> Nullable<Timestamp>,
        last_pull_at -> Nullable<Timestamp>,
        clock_skew_ms -> Nullable<BigInt>,
        pending_count -> Nullable<BigInt>,
        pulled_scope_version -> Nullable<BigInt>,
        pulled_user_id -> Nullable<Text>,
        kind -> Text,
        platform -> Nullable<Text>,
        label -> Nullable<Text>,
        pulled_schema_version -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        token_hash -> Text,
        family_id -> Text,
        organisation_id -> Text,
        user_id -> Text,
        device_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    auth_state (id) {
        id -> Integer,
        generation -> BigInt,
    }
}

diesel::table! {
    sync_state (id) {
        id -> Integer,
        seq -> BigInt,
        purged_through -> BigInt,
    }
}

diesel::table! {
    categories (id) {
        id -> Text,
        organisation_id -> Text,
        slug -> Text,
        label_sv -> Text,
        label_en -> Text,
        sort_order -> Integer,
        active -> Bool,
        server_seq -> BigInt,
    }
}

diesel::table! {
    activity_types (id) {
        id -> Text,
        organisation_id -> Text,
        slug -> Text,
        label_sv -> Text,
        label_en -> Text,
        sort_order -> Integer,
        active -> Bool,
        server_seq -> BigInt,
    }
}

diesel::table! {
    observations (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        user_id -> Text,
        device_id -> Text,
        category -> Text,
        severity -> Integer,
        perceived_safety -> Integer,
        people_count -> Nullable<Integer>,
        age_band -> Nullable<Text>,
        note -> Text,
        lat -> Double,
        lon -> Double,
        accuracy_m -> Nullable<Double>,
        observed_at -> BigInt,
        observed_at_device -> BigInt,
        clock_corrected -> Bool,
        needs_follow_up -> Bool,
        status -> Text,
        review_comment -> Nullable<Text>,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<BigInt>,
        area_code -> Nullable<Text>,
        cell -> Nullable<Text>,
        redacted -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        created_seq -> BigInt,
        content_seq -> BigInt,
        review_seq -> BigInt,
        server_seq -> BigInt,
        content_device_id -> Text,
        review_device_id -> Nullable<Text>,
        author_seen_seq -> Nullable<BigInt>,
        coarse_darkness -> Nullable<Integer>,
    }
}

diesel::table! {
    activity_logs (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        user_id -> Text,
        device_id -> Text,
        activity_type -> Text,
        unit -> Text,
        started_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        started_at_device -> BigInt,
        ended_at_device -> Nullable<BigInt>,
        clock_corrected -> Bool,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        area_code -> Nullable<Text>,
        cell -> Nullable<Text>,
        girls -> Integer,
        boys -> Integer,
        gender_other -> Integer,
        gender_unknown -> Integer,
        age_under_13 -> Integer,
        age_13_15 -> Integer,
        age_16_17 -> Integer,
        age_18_24 -> Integer,
        age_25_plus -> Integer,
        age_unknown -> Integer,
        note -> Text,
        redacted -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        created_seq -> BigInt,
        content_seq -> BigInt,
        server_seq -> BigInt,
        content_device_id -> Text,
        author_seen_seq -> Nullable<BigInt>,
        coarse_darkness -> Nullable<Integer>,
    }
}

diesel::table! {
    sync_quarantine (organisation_id, table_name, record_id) {
        organisation_id -> Text,
        table_name -> Text,
        record_id -> Text,
        user_id -> Text,
        device_id -> Text,
        payload -> Text,
        errors -> Text,
        received_at -> BigInt,
        server_seq -> BigInt,
        first_seq -> BigInt,
        resolved_at -> Nullable<BigInt>,
        resolution -> Nullable<Text>,
    }
}

diesel::table! {
    record_history (id) {
        id -> Text,
        organisation_id -> Text,
        table_name -> Text,
        record_id -> Text,
        server_seq -> BigInt,
        changed_by -> Text,
        device_id -> Text,
        changed_at -> BigInt,
        change -> Text,
        fields -> Text,
        previous -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        organisation_id -> Text,
        at -> BigInt,
        user_id -> Nullable<Text>,
        role -> Text,
        action -> Text,
        format -> Nullable<Text>,
        filters -> Text,
        row_count -> Nullable<BigInt>,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    indicators (id) {
        id -> Text,
        organisation_id -> Text,
        slug -> Text,
        name_sv -> Text,
        name_en -> Text,
        source -> Text,
        unit -> Text,
        groups -> Text,
        target_kind -> Text,
        target_value -> Nullable<Double>,
        higher_is_better -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    followup_assessments (organisation_id, period) {
        organisation_id -> Text,
        period -> Text,
        rating -> Text,
        comment -> Text,
        set_by -> Text,
        set_at -> BigInt,
    }
}

diesel::table! {
    indicator_values (indicator_id, year, group_key) {
        organisation_id -> Text,
        indicator_id -> Text,
        year -> Integer,
        group_key -> Text,
        value -> Double,
        note -> Nullable<Text>,
        recorded_by -> Nullable<Text>,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    retention_settings (organisation_id) {
        organisation_id -> Text,
        free_text_months -> Nullable<Integer>,
        position_months -> Nullable<Integer>,
        history_months -> Nullable<Integer>,
        audit_months -> Nullable<Integer>,
        updated_by -> Nullable<Text>,
        updated_at -> BigInt,
        last_run_at -> Nullable<BigInt>,
        photo_months -> Nullable<Integer>,
    }
}

diesel::joinable!(units -> organisations (organisation_id));
diesel::joinable!(users -> organisations (organisation_id));
diesel::joinable!(users -> units (unit_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    login_limits (key) {
        key -> Text,
        tat_ms -> BigInt,
    }
}

diesel::table! {
    problems (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        title -> Text,
        description -> Text,
        source -> Text,
        status -> Text,
        areas -> Text,
        categories -> Text,
        time_window -> Text,
        version -> BigInt,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    measures (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        title -> Text,
        description -> Text,
        responsible_unit -> Text,
        status -> Text,
        areas -> Text,
        problems -> Text,
        categories -> Text,
        activity_types -> Text,
        shared_with -> Text,
        planned_start -> Text,
        planned_end -> Nullable<Text>,
        effort -> Text,
        decision -> Text,
        version -> BigInt,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    plan_history (organisation_id, kind, item_id, version) {
        organisation_id -> Text,
        kind -> Text,
        item_id -> Text,
        version -> BigInt,
        body -> Text,
        changed_by -> Text,
        changed_at -> BigInt,
    }
}

diesel::table! {
    feedback (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        body -> Text,
        areas -> Text,
        measure_id -> Nullable<Text>,
        measure_title -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Text,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        created_seq -> BigInt,
        server_seq -> BigInt,
    }
}

diesel::table! {
    plan_documents (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        kind -> Text,
        period -> Text,
        version -> BigInt,
        lang -> Text,
        analysis -> Text,
        partner_input -> Text,
        approved_by -> Text,
        approved_by_name -> Text,
        approved_at -> BigInt,
        html -> Text,
        csv -> Text,
        xlsx -> Binary,
    }
}

diesel::table! {
    attachments (organisation_id, id) {
        organisation_id -> Text,
        id -> Text,
        observation_id -> Text,
        observation_user_id -> Text,
        user_id -> Text,
        device_id -> Text,
        sha256 -> Text,
        content_type -> Text,
        byte_size -> BigInt,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        created_seq -> BigInt,
        server_seq -> BigInt,
    }
}

diesel::table! {
    photos (organisation_id, sha256) {
        organisation_id -> Text,
        sha256 -> Text,
        byte_size -> BigInt,
        thumbnail_size -> BigInt,
        width -> Integer,
        height -> Integer,
        uploaded_by -> Text,
        uploaded_at -> BigInt,
    }
}

diesel::table! {
    photo_chunks (organisation_id, sha256, start_offset) {
        organisation_id -> Text,
        sha256 -> Text,
        start_offset -> BigInt,
        data -> Binary,
        received_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    units,
    users,
    devices,
    refresh_tokens,
    auth_state,
    sync_state,
    categories,
    activity_types,
    observations,
    activity_logs,
    sync_quarantine,
    record_history,
    partner_areas,
    areas,
    area_jobs,
    audit_log,
    followup_assessments,
    indicators,
    indicator_values,
    retention_settings,
    problems,
    measures,
    plan_history,
    feedback,
    plan_documents,
    attachments,
    photos,
    photo_chunks,
);
